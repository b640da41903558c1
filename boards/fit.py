"""Will a design fit the chip? An estimate made before synthesis, from measured figures.

``fewmul build`` calls :func:`check_fit` before Yosys runs, so a design that cannot fit fails in
a second with the resource that runs out and by how much ("needs 55 of the UP5K's 30 block
RAMs"), instead of after minutes in nextpnr ("no BELs remaining").

- **Block RAM** comes from the design itself: it is elaborated (no synthesis) and every memory
  with a synchronous read port is mapped the way Yosys' ``memory_libmap`` maps it: onto the
  chip's block RAM geometry (iCE40 EBR: 4 kbit, 256 x 16 .. 2048 x 2; ECP5 DP16KD and Gowin
  BSRAM: 18 kbit, 512 x 36 .. 16k x 1), ``ceil(depth / rows) x ceil(width / bits)`` blocks in the
  cheapest shape, once per read port; unless flip-flops (one cost unit a bit) or LUT RAM
  (ECP5 / Gowin, 16 x 4 for 4 units) are cheaper than the blocks (64 units an EBR, 128 a
  DP16KD / BSRAM: the costs of Yosys' own libraries). Memories read combinationally are never
  block RAM.
- **Logic** is ``base + per_PE x PEs``, the two largest builds of each series in
  ``docs/results.md`` (iCE40UP5K logic cells: 130 per PE and 1891 at W16 E16.12, 99 per PE at
  W8 E12.8; ECP5 TRELLIS_COMB: 106 per PE, 1242; at W8 E12.8 the 32 x 32 that does not fit),
  scaled linearly with the format's ``weight_bits + act_bits + err_bits``; the whole trainer is
  its own series (:data:`_SYSTEM`: a base, and a ``TilePE`` per PE of its ``K x K`` tile).
  Gowin has no measured build: its LUT4 and flip-flop figures are the ECP5 Yosys counts (a
  CCU2C carry cell as two LUT4s), flip-flops separately (83 per PE, 1853), since the GW1NR-9
  has fewer flip-flops (6480) than LUT4s (8640).

It is an estimate: a design a few percent under a limit may still fail in placement, and one
within a few percent over it is refused although it might fit. Checked against builds of the
boards' default arrays (2026-12, nextpnr seed 1): iCEBreaker 4 x 4, estimate 3971 logic cells
and 12 block RAMs, built 3893 and 12 (33.6 MHz); Tang Nano 9K 8 x 4, estimate 4362 LUT4 and 4509
flip-flops, built 4747 LUT4 and 4157 DFF (69.8 MHz); the ULX3S-85F trainer (8 x 8, 64-64-10),
estimate 8 DP16KD, built 9 (docs/engine.md); the iCEBreaker trainer (4 x 4, 64-64-10), estimate
55 block RAMs, nextpnr 54. The streaming trainer (2026-12-05): ULX3S-85F 64-256-10 on the 8 x 8
tile with 1,437 samples on chip, estimate 37,167 LUTs (the point the base is fitted to) and 135
DP16KD, built 37,167 and 143; with the data store's one read port and one-bit memories
(2026-12-06), estimate 106 DP16KD, built 110 and 35,532 LUTs (the base is left at the larger
build: the estimate errs towards refusing).
"""

import math
from dataclasses import dataclass

__all__ = ["Chip", "CHIPS", "DoesNotFit", "Estimate", "estimate", "check_fit", "block_rams",
           "memories"]


@dataclass(frozen=True)
class Chip:
    name: str              # as a user reads it: "UP5K"
    logic: int             # basic logic cells (iCE40 LC, ECP5 TRELLIS_COMB, Gowin LUT4)
    logic_name: str
    ffs: int               # flip-flops counted apart from the logic (None: one per logic cell)
    brams: int
    bram_name: str
    bram_bits: int         # data bits of one block
    bram_widths: tuple     # port widths of a block (depth = bram_bits // width, parity aside)
    bram_cost: int         # Yosys memory_libmap cost of one block
    lutram: bool           # 16 x 4 LUT RAM (cost 4)
    dsp: int


#: The chips of :data:`fewmul.boards.synth.BOARDS` (key: ``Board.device``).
CHIPS = {
    "ice40up5k": Chip("UP5K", 5280, "logic cells", None, 30, "block RAMs", 4096,
                      (16, 8, 4, 2), 64, False, 8),
    "ecp5-85f": Chip("ECP5-85F", 83640, "LUTs", None, 208, "DP16KD block RAMs", 16384,
                     (36, 18, 9, 4, 2, 1), 128, True, 156),
    "ecp5-25f": Chip("ECP5-25F", 24288, "LUTs", None, 56, "DP16KD block RAMs", 16384,
                     (36, 18, 9, 4, 2, 1), 128, True, 28),
    "gw1nr-9": Chip("GW1NR-9", 8640, "LUT4s", 6480, 26, "BSRAM blocks", 16384,
                    (36, 18, 9, 4, 2, 1), 128, True, 20),
}

#: Measured logic per family: ``(base, per PE)`` at 40 format bits (W16 A8 E16), and the
#: relative change per format bit, from W8 E12.8 (28 bits): iCE40 99 cells per PE instead of
#: 130; ECP5 the 32 x 32 array that nextpnr's packer found at 90645 TRELLIS_COMB.
_LOGIC = {"ice40": (1891, 130), "ecp5": (1242, 106), "gowin": (1482, 90)}
_GOWIN_FFS = (1853, 83)
_PER_BIT = {"ice40": (1 - 99 / 130) / 12,
            "ecp5": (1 - 90645 / (1242 + 106 * 1024)) / 12,
            "gowin": (1 - 90645 / (1242 + 106 * 1024)) / 12}
#: The whole trainer (the streaming engine, link, UART) at 40 format bits: ``(base, per
#: TilePE)``. ECP5: a ``TilePE`` (sampler, two sign-flip products, its own update unit) is
#: about 470 LUTs (docs/engine.md) and the ULX3S-85F trainer, 64-256-10 on the 8 x 8 tile,
#: built at 37,167 (docs/results.md, bench-trainer): the rest is its base. iCE40: the same
#: split scaled by the arrays' iCE40 / ECP5 ratio per PE (130 / 106), fitted to the
#: iCEBreaker trainer 64-64-10 on the 4 x 4 tile at W8 E12.8, which nextpnr packed into
#: 12,032 logic cells. Gowin: the ECP5 figures.
_SYSTEM = {"ice40": (6582, 576), "ecp5": (7087, 470), "gowin": (7087, 470)}
#: The multiplier baseline, iCE40 logic cells: (base, per PE) with hard multipliers, and the
#: extra of a Booth multiplier once the DSPs are used up (docs/results.md).
_BASELINE = (282, 324, 440)


class DoesNotFit(ValueError):
    """The design needs more of a resource than the chip has (the message says how much)."""


@dataclass(frozen=True)
class Estimate:
    chip: Chip
    logic: int
    ffs: int
    brams: int

    def shortfalls(self):
        """``(needed, available, resource)`` of every resource that runs out."""
        c = self.chip
        out = [(self.brams, c.brams, c.bram_name), (self.logic, c.logic, c.logic_name)]
        if c.ffs is not None:
            out.append((self.ffs, c.ffs, "flip-flops"))
        return [(need, have, name) for need, have, name in out if need > have]


def memories(design):
    """``(depth, width, sync read ports, comb read ports)`` of every memory in ``design``
    (elaborated, not synthesized). Uses Amaranth 0.5's ``MemoryInstance``."""
    from amaranth.hdl import Fragment, Shape
    from amaranth.hdl._mem import MemoryInstance
    found = []

    def walk(fragment):
        if isinstance(fragment, MemoryInstance):
            ports = [p._domain for p in fragment._read_ports]
            found.append((fragment._data.depth, Shape.cast(fragment._data.shape).width,
                          sum(d != "comb" for d in ports), sum(d == "comb" for d in ports)))
        for sub, *_ in fragment.subfragments:
            walk(sub)
    walk(Fragment.get(design, None))
    return found


def _blocks(chip, depth, width):
    best = None
    for bits in chip.bram_widths:
        data = bits - bits // 9 if bits % 9 == 0 else bits   # 9/18/36: a parity bit a byte
        rows = chip.bram_bits // data
        n = math.ceil(depth / rows) * math.ceil(width / bits)
        best = n if best is None else min(best, n)
    return best


def block_rams(chip, mems):
    """Block RAMs the memories ``mems`` (from :func:`memories`) take on ``chip``."""
    total = 0
    for depth, width, sync_reads, comb_reads in mems:
        if not sync_reads or comb_reads:
            continue                                    # LUT RAM or flip-flops
        blocks = _blocks(chip, depth, width) * sync_reads
        cheaper = [depth * width]                       # flip-flops: one unit a bit
        if chip.lutram:
            cheaper.append(4 * math.ceil(depth / 16) * math.ceil(width / 4) * sync_reads)
        if blocks * chip.bram_cost < min(cheaper):
            total += blocks
    return total


def _format_scale(family, cfg):
    return 1 + _PER_BIT[family] * (cfg.weight_bits + cfg.act_bits + cfg.err_bits - 40)


def estimate(board, design, cfg, block=None):
    """The :class:`Estimate` of ``design`` (``fewmul`` | ``baseline`` | ``system``) with ``cfg``
    on ``board`` (a :class:`fewmul.boards.synth.Board`). ``block``: the design's component
    (built with :func:`fewmul.boards.designs.make_design` when not given)."""
    from .designs import make_design, pe_count
    chip = CHIPS[board.device]
    pes, scale = pe_count(cfg), _format_scale(board.family, cfg)
    base, per_pe = _LOGIC[board.family]
    if design == "baseline":
        base, per_pe, booth = _BASELINE
        logic = base + per_pe * pes + booth * max(0, pes - board.dsp_blocks)
    elif design == "system":
        base, per_pe = _SYSTEM[board.family]
        logic = base + per_pe * pes
    else:
        logic = base + per_pe * pes
    ff_base, ff_per_pe = _GOWIN_FFS
    ffs = (ff_base + ff_per_pe * pes) * scale
    block = block if block is not None else make_design(design, cfg)
    return Estimate(chip, round(logic * scale), round(ffs), block_rams(chip, memories(block)))


def check_fit(board, design, cfg, block=None):
    """The :class:`Estimate`, or :class:`DoesNotFit` naming every resource that runs out."""
    est = estimate(board, design, cfg, block)
    short = est.shortfalls()
    if short:
        needs = " and ".join(f"{'about ' if name != est.chip.bram_name else ''}{need} of the "
                             f"{est.chip.name}'s {have} {name}" for need, have, name in short)
        fix = "a smaller array (--rows / --cols) or a narrower format"
        if design == "system":
            fix = "a smaller MLP (--hidden), " + fix
        raise DoesNotFit(
            f"{design} {cfg.array_rows}x{cfg.array_cols} does not fit {board.name}: it needs "
            f"{needs} (estimate before synthesis, boards/fit.py); use {fix}")
    return est
