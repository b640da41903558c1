"""Roofline of the training engine: a lower bound on clock cycles per training sample.

Plain Python (no Amaranth), next to :mod:`fewmul.hw.engine_plan`; the arithmetic and the chip
figures with their sources are in ``docs/engine.md``, section "Roofline".

One online training step (``docs/datapath.md`` section 9) runs as a chain of *phases*, each a
pass over one layer's ``N_l M_l`` weights: forward ``0 .. L-1``, then (``signs="regenerate"``,
the streaming engine's choice) a fused backward + update pass for layers ``L-1 .. 1`` that
regenerates the signs from the pre-update weights in the read of the read-modify-write, then the
update of layer 0. With ``signs="stored"`` the forward writes the sign bits of layers ``>= 1``,
the backward ``L-1 .. 1`` reads them, and one update pass covers every layer. A phase costs

    max(datapath, memory) + latency

- **datapath**: the weights of the phase over the PEs (``ceil(N M / P)``), or for a given
  ``R x C`` engine its tiles (``ceil(M / R) ceil(N / C)``);
- **memory**: the block-RAM words the phase moves over the banks that can move one word each per
  cycle (weights packed ``weights_per_word`` to a port word; a single-port memory needs two
  cycles for a read-modify-write);
- **latency**: the layer dependency chain: the next phase needs all of this one's outputs, so a
  pipeline fill / drain of ``fill_cycles`` plus ``cycles_per_output`` per output of the phase.

The step is the sum over the phases, plus the draws when they are made before the step
(``draws_ahead=False``); with draws for the next step made during this one the random-number
streams (``max(sum N_l, sum M_l)`` cycles, one draw per stream per cycle) and the prefetch of
the next sample from the on-chip data set are throughput bounds: the step cannot be shorter.
"""

import math
from dataclasses import dataclass, replace

from ..config import Config

__all__ = ["Memory", "Chip", "CHIPS", "get_chip", "Assumptions", "Phase", "MemoryPlan",
           "Roofline", "DoesNotFit", "plan_memories",
           "roofline", "roofline_table", "DIGITS_TRAIN_SAMPLES", "SIGN_MODES", "TERMS"]

#: Training samples of the digits data set (1797 images, 80 % split: ``golden.data.load``).
DIGITS_TRAIN_SAMPLES = 1437
SIGN_MODES = ("regenerate", "stored")
#: The named terms of a :class:`Roofline`, in the order ``binds`` prefers on a tie.
TERMS = ("datapath", "memory", "chain", "rng", "dataset")


class DoesNotFit(ValueError):
    """The network (or the data set) does not fit the chip's memories; the message says which
    memory and by how much."""


@dataclass(frozen=True)
class Memory:
    """One kind of on-chip memory block, at the port shape the engine uses."""
    name: str           # the primitive: "EBR", "SPRAM", "DP16KD", "BSRAM"
    count: int          # blocks on the chip
    width: int          # bits of one port word (read port and write port alike)
    depth: int          # words of that width
    dual_port: bool     # a read port and a write port every cycle; False: one access a cycle

    @property
    def bits(self):
        return self.width * self.depth


@dataclass(frozen=True)
class Chip:
    """An FPGA's resources (``docs/engine.md``, "Roofline": figures and sources) and the
    defaults the roofline assumes for it."""
    name: str
    part: str
    boards: tuple
    logic_cells: int        # LUT4 cells: ICESTORM_LC (LUT4 + FF) / TRELLIS_COMB / LUT4
    ffs: int                # iCE40: the same LCs (so pe_cells there counts the FFs too)
    dsps: int               # 18 x 18 (16 x 16 on the iCE40) multipliers; unused by fewmul
    memories: tuple         # Memory, block RAM first
    dataset_memory: str     # where the training set lives by default
    sign_memory: str        # where stored sign bits live by default (signs="stored")
    pe_cells: int           # logic cells of one streaming PE (W16 E16.12 estimate)
    pe_ffs: int

    def memory(self, name):
        for m in self.memories:
            if m.name == name:
                return m
        raise ValueError(f"{name!r} is not a memory of {self.name}; choose one of "
                         f"{', '.join(m.name for m in self.memories)}")

    @property
    def block_memory(self):
        return self.memories[0].name


# Streaming PE = measured weight-stationary PE (docs/results.md, marginal cost per PE at
# W16 E16.12) - its weight register + its own update unit. The update unit is the array's
# column unit without the quantizer (which stays one per column), from the iCE40 6 x 4 area
# table: barrel shifter 89 + UpdateShift 6 + UpdateRound 23 LUTs + a saturating add of about
# 2 x 16 = 32 LUTs: 150 LUT4s; registers whole (16) + fraction and guard (9) + step (16): 41 FFs.
_UPDATE_LUTS, _UPDATE_FFS = 150, 41
_ICE40_PE = dict(pe_cells=130 - 16 + _UPDATE_LUTS, pe_ffs=108 - 16 + _UPDATE_FFS)   # 264, 133
_LUT4_FF_PE = dict(pe_cells=106 + _UPDATE_LUTS, pe_ffs=83 - 16 + _UPDATE_FFS)       # 256, 108

CHIPS = {c.name: c for c in [
    Chip("ice40up5k", "iCE40UP5K", ("icebreaker",), logic_cells=5280, ffs=5280, dsps=8,
         memories=(Memory("EBR", 30, 16, 256, True), Memory("SPRAM", 4, 16, 16384, False)),
         dataset_memory="SPRAM", sign_memory="SPRAM", **_ICE40_PE),
    Chip("ecp5-85f", "LFE5U-85F", ("ulx3s-85f", "orangecrab-85f"), logic_cells=83640,
         ffs=83640, dsps=156, memories=(Memory("DP16KD", 208, 36, 512, True),),
         dataset_memory="DP16KD", sign_memory="DP16KD", **_LUT4_FF_PE),
    Chip("ecp5-25f", "LFE5U-25F", ("colorlight-5a75b", "colorlight-i5", "orangecrab-25f"),
         logic_cells=24288, ffs=24288, dsps=28, memories=(Memory("DP16KD", 56, 36, 512, True),),
         dataset_memory="DP16KD", sign_memory="DP16KD", **_LUT4_FF_PE),
    Chip("gw1n-9c", "GW1N-9C (GW1NR-9)", ("tangnano9k",), logic_cells=8640, ffs=6480, dsps=20,
         memories=(Memory("BSRAM", 26, 36, 512, True),),
         dataset_memory="BSRAM", sign_memory="BSRAM", **_LUT4_FF_PE),
]}
_ALIASES = {"gw1nr-9": "gw1n-9c"}


def get_chip(name):
    """The :class:`Chip` called ``name`` (a :class:`Chip` passes through)."""
    if isinstance(name, Chip):
        return name
    key = _ALIASES.get(name, name) if isinstance(name, str) else None
    if key not in CHIPS:
        raise ValueError(f"unknown chip {name!r}; choose one of {', '.join(CHIPS)}")
    return CHIPS[key]


@dataclass(frozen=True, kw_only=True)
class Assumptions:
    """What the bound assumes beyond the chip and the network (``None``: the chip's default)."""
    #: "regenerate": backward fused into the update's read (no extra read); "stored": sign
    #: bits written by the forward and read by the backward.
    signs: str = "regenerate"
    #: Draws of the next step made during this one (then a throughput bound, not latency).
    draws_ahead: bool = True
    #: Draws per cycle of each of the five xorshift32 streams (1: docs/datapath.md section 6).
    draws_per_cycle: int = 1
    #: Pipeline fill / drain of one phase (adder trees, post-processing).
    fill_cycles: int = 10
    #: Serial work per output of a phase after its last weight (0: post-processing keeps up).
    cycles_per_output: float = 0.0
    pe_cells: int = None
    pe_ffs: int = None
    #: Logic left for the rest of the trainer: UART, link and CRC, sequencer, five RNGs,
    #: post-processing, one quantizer per column.
    reserved_cells: int = 2000
    reserved_ffs: int = 2000
    #: Block RAMs left for the rest: vectors (x, errors, draws for two steps, biases), link.
    reserved_blocks: int = 4
    #: Training samples held on chip (N0 input bytes + 1 label byte each); 0: none.
    dataset_samples: int = DIGITS_TRAIN_SAMPLES
    weight_memory: str = None
    dataset_memory: str = None
    sign_memory: str = None

    def __post_init__(self):
        if self.signs not in SIGN_MODES:
            raise ValueError(f"signs must be one of {', '.join(SIGN_MODES)}; not {self.signs!r}")
        for name, lo in [("draws_per_cycle", 1), ("fill_cycles", 0), ("reserved_cells", 0),
                         ("reserved_ffs", 0), ("reserved_blocks", 0), ("dataset_samples", 0),
                         ("pe_cells", 1), ("pe_ffs", 1)]:
            value = getattr(self, name)
            if value is None and name.startswith("pe_"):
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < lo:
                raise ValueError(f"{name} must be an integer >= {lo}, not {value!r}")
        if not isinstance(self.draws_ahead, bool):
            raise ValueError(f"draws_ahead must be True or False, not {self.draws_ahead!r}")
        if (isinstance(self.cycles_per_output, bool)
                or not isinstance(self.cycles_per_output, int | float)
                or self.cycles_per_output < 0):
            raise ValueError(f"cycles_per_output must be a number >= 0, "
                             f"not {self.cycles_per_output!r}")

    def replace(self, **changes):
        return replace(self, **changes)


@dataclass(frozen=True)
class Phase:
    """One pass over one layer's weights (or, ``stored`` update, over all of them)."""
    name: str
    weights: int
    datapath: int
    memory: int
    latency: int

    @property
    def cycles(self):
        return max(self.datapath, self.memory) + self.latency


@dataclass(frozen=True)
class MemoryPlan:
    """Which blocks hold what (:func:`plan_memories`)."""
    #: ``{"reserved memories" | "data set" | "sign bits" | "weights": (memory name, blocks)}``
    blocks: dict
    weight_memory: Memory
    banks: int              # weight banks, each ``blocks_per_bank`` blocks side by side
    blocks_per_bank: int
    weights_per_word: int
    sign_banks: int         # 0 unless signs="stored"
    signs_per_word: int
    sample_words: int       # port words of one sample of the data set (0: no data set)


@dataclass(frozen=True)
class Roofline:
    """The bound for one network on one chip (:func:`roofline`); ``cycles`` is the bound."""
    cfg: Config
    chip: Chip
    assume: Assumptions
    pes: int                # PEs of the bound (the given engine's, or pe_budget)
    pe_budget: int          # streaming PEs that fit the logic at pe_cells / pe_ffs each
    pe_cells: int
    pe_ffs: int
    shape: tuple            # (R, C) of a given engine, or None
    memories: MemoryPlan
    phases: tuple
    rng: int

    @property
    def network(self):
        return "-".join(str(n) for n in self.cfg.layers)

    @property
    def ops(self):
        """Operations of one step: sign-adds forward and backward, shift-adds of the update."""
        nm = [n * m for n, m in zip(self.cfg.layers[:-1], self.cfg.layers[1:], strict=True)]
        return {"forward": sum(nm), "backward": sum(nm[1:]), "update": sum(nm)}

    @property
    def draws(self):
        """Random draws of one step (``docs/datapath.md`` section 6)."""
        return 3 * sum(self.cfg.layers[:-1]) + 2 * sum(self.cfg.layers[1:])

    @property
    def datapath(self):
        return sum(p.datapath for p in self.phases)

    @property
    def memory(self):
        return sum(p.memory for p in self.phases)

    @property
    def chain(self):
        """Latency of the dependency chain (fill / drain and serial work of every phase)."""
        return sum(p.latency for p in self.phases)

    @property
    def dataset(self):
        """Cycles to fetch the next sample from the on-chip data set (during the step)."""
        return self.memories.sample_words

    @property
    def step(self):
        """The step as a chain: every phase after the one before (+ the draws if not ahead)."""
        serial = sum(p.cycles for p in self.phases)
        return serial if self.assume.draws_ahead else serial + self.rng

    @property
    def cycles(self):
        """Lower bound on clock cycles per training sample."""
        return max(self.step, self.rng, self.dataset)

    @property
    def terms(self):
        """What each named term contributes to ``cycles``; ``binds`` is the largest."""
        if self.step >= max(self.rng, self.dataset):
            return {"datapath": sum(p.datapath for p in self.phases if p.datapath >= p.memory),
                    "memory": sum(p.memory for p in self.phases if p.memory > p.datapath),
                    "chain": self.chain, "rng": 0 if self.assume.draws_ahead else self.rng,
                    "dataset": 0}
        rng_binds = self.rng >= self.dataset
        return {"datapath": 0, "memory": 0, "chain": 0, "rng": self.rng if rng_binds else 0,
                "dataset": 0 if rng_binds else self.dataset}

    @property
    def binds(self):
        terms = self.terms
        return max(TERMS, key=lambda t: (terms[t], -TERMS.index(t)))

    def samples_per_s(self, fmax_hz):
        """Training samples per second at ``fmax_hz``: ``fmax / cycles``."""
        if isinstance(fmax_hz, bool) or not isinstance(fmax_hz, int | float) or fmax_hz <= 0:
            raise ValueError(f"fmax_hz must be a positive number, not {fmax_hz!r}")
        return fmax_hz / self.cycles

    def as_row(self):
        """Plain-JSON row (what :func:`roofline_table` returns)."""
        mem = self.memories
        return {
            "chip": self.chip.name, "part": self.chip.part, "boards": list(self.chip.boards),
            "network": self.network, "weights": self.cfg.weights,
            "weight_bits": self.cfg.weight_bits, "fits": True, "reason": "",
            "pes": self.pes, "pe_budget": self.pe_budget, "pe_cells": self.pe_cells,
            "shape": list(self.shape) if self.shape else None,
            "weight_memory": mem.weight_memory.name, "banks": mem.banks,
            "weights_per_word": mem.weights_per_word,
            "blocks": {k: list(v) for k, v in mem.blocks.items()},
            "signs": self.assume.signs, "draws_ahead": self.assume.draws_ahead,
            "ops": self.ops, "draws": self.draws,
            "datapath_cycles": self.datapath, "memory_cycles": self.memory,
            "chain_cycles": self.chain, "rng_cycles": self.rng, "dataset_cycles": self.dataset,
            "cycles": self.cycles, "binds": self.binds,
            "phases": [{"name": p.name, "weights": p.weights, "datapath": p.datapath,
                        "memory": p.memory, "latency": p.latency} for p in self.phases],
        }


def _ceil(a, b):
    return -(-a // b)


def _packing(mem, item_bits):
    """``(blocks side by side, items per port word)`` of ``item_bits``-bit items in ``mem``."""
    per_bank = _ceil(item_bits, mem.width)
    return per_bank, per_bank * mem.width // item_bits


def _blocks_for(items, mem, item_bits):
    """Blocks of ``mem`` that hold ``items`` items of ``item_bits`` bits, packed."""
    per_bank, per_word = _packing(mem, item_bits)
    return per_bank * _ceil(_ceil(items, per_word), mem.depth)


class _Pool:
    """Blocks of each memory kind, handed out in order; a shortfall names memory and amount."""

    def __init__(self, chip, network):
        self._chip, self._network = chip, network
        self.free = {m.name: m.count for m in chip.memories}
        self.used = {}

    def take(self, what, name, n, detail):
        if n > self.free[name]:
            given = ", ".join(f"{v[1]} for the {k}" for k, v in self.used.items()
                              if v[0] == name)
            after = f" after {given}" if given else ""
            raise DoesNotFit(
                f"{self._network} does not fit {self._chip.name}: the {what} ({detail}) "
                f"would take {n} {name}, {self.free[name]} of {self._chip.memory(name).count} "
                f"are free{after}: {n - self.free[name]} {name} short")
        if n:
            self.free[name] -= n
            self.used[what] = (name, n)


def plan_memories(cfg, chip, assume, *, want_banks=None, banks=None):
    """Place reserved memories, the data set, the sign bits (``stored``), then the weights;
    every free block of the weight memory is a weight bank unless ``want_banks`` (a given
    engine's need) or ``banks`` says fewer. :class:`DoesNotFit` names memory and shortfall."""
    network = "-".join(str(n) for n in cfg.layers)
    nm = [n * m for n, m in zip(cfg.layers[:-1], cfg.layers[1:], strict=True)]
    w_mem = chip.memory(assume.weight_memory or chip.block_memory)
    d_mem = chip.memory(assume.dataset_memory or chip.dataset_memory)
    s_mem = chip.memory(assume.sign_memory or chip.sign_memory)
    pool = _Pool(chip, network)
    pool.take("reserved memories", chip.block_memory, assume.reserved_blocks,
              "vectors, draws, link buffers")

    sample_bytes, sample_words = cfg.layers[0] + 1, 0
    if assume.dataset_samples:
        per_word = _packing(d_mem, 8)[1]
        pool.take("data set", d_mem.name,
                  _blocks_for(assume.dataset_samples * sample_bytes, d_mem, 8),
                  f"{assume.dataset_samples} samples x {sample_bytes} bytes, {per_word} bytes "
                  f"per {d_mem.width}-bit word")
        sample_words = _ceil(sample_bytes, per_word)

    per_bank, w_per_word = _packing(w_mem, cfg.weight_bits)
    sign_bits = 1 if cfg.weights == "binary" else 2
    sign_banks, s_per_word = 0, _packing(s_mem, sign_bits)[1]
    if assume.signs == "stored":
        sign_banks = _blocks_for(sum(nm[1:]), s_mem, sign_bits)
        free = pool.free[s_mem.name]
        if s_mem.name == w_mem.name:     # share the pool: enough to keep up with the weights
            sign_banks = max(sign_banks, _ceil(free * w_per_word, s_per_word + w_per_word))
        else:                            # a memory of their own: all of it
            sign_banks = max(sign_banks, free)
        pool.take("sign bits", s_mem.name, sign_banks,
                  f"{sum(nm[1:])} signs of {sign_bits} bits, {s_per_word} per word")

    free_banks = pool.free[w_mem.name] // per_bank
    n_banks = banks if banks is not None else min(free_banks, want_banks or free_banks)
    if isinstance(n_banks, bool) or not isinstance(n_banks, int) or n_banks < 1:
        raise ValueError(f"banks must be a positive integer, not {n_banks!r}")
    pool.take("weights", w_mem.name,
              max(_blocks_for(sum(nm), w_mem, cfg.weight_bits), n_banks * per_bank),
              f"{sum(nm)} weights of {cfg.weight_bits} bits, {w_per_word} per "
              f"{w_mem.width}-bit word, {n_banks} banks")
    return MemoryPlan(blocks=dict(pool.used), weight_memory=w_mem, banks=n_banks,
                      blocks_per_bank=per_bank, weights_per_word=w_per_word,
                      sign_banks=sign_banks, signs_per_word=s_per_word,
                      sample_words=sample_words)


def _check_pes(pes):
    if pes is None:
        return None, None
    if isinstance(pes, tuple) and len(pes) == 2 and all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in pes):
        return pes[0] * pes[1], pes
    if isinstance(pes, int) and not isinstance(pes, bool) and pes >= 1:
        return pes, None
    raise ValueError(f"pes must be None, a positive integer or a (rows, cols) tuple, "
                     f"not {pes!r}")


def _phases(cfg, assume, mem, pes, shape):
    """The step's chain of phases (module docstring)."""
    ns, ms = cfg.layers[:-1], cfg.layers[1:]
    nm = [n * m for n, m in zip(ns, ms, strict=True)]
    layers = range(len(nm))
    rmw = 1 if mem.weight_memory.dual_port else 2      # read and write: two ports or two cycles

    def datapath(lay):
        if shape is None:
            return _ceil(nm[lay], pes)
        return _ceil(ms[lay], shape[0]) * _ceil(ns[lay], shape[1])

    def weight_words(lay):
        return _ceil(nm[lay], mem.weights_per_word)

    def sign_cycles(lay):
        return _ceil(_ceil(nm[lay], mem.signs_per_word), mem.sign_banks)

    def latency(outputs):
        return assume.fill_cycles + math.ceil(outputs * assume.cycles_per_output)

    stored = assume.signs == "stored"
    phases = [Phase(f"forward {lay}", nm[lay], datapath(lay),
                    max(_ceil(weight_words(lay), mem.banks),
                        sign_cycles(lay) if stored and lay >= 1 else 0),
                    latency(ms[lay])) for lay in layers]
    if not stored:
        phases += [Phase(f"backward+update {lay}" if lay else "update 0", nm[lay],
                         datapath(lay), rmw * _ceil(weight_words(lay), mem.banks),
                         latency(ns[lay] if lay else 0)) for lay in reversed(layers)]
    else:
        phases += [Phase(f"backward {lay}", nm[lay], datapath(lay), sign_cycles(lay),
                         latency(ns[lay])) for lay in reversed(layers[1:])]
        phases.append(Phase("update", sum(nm), sum(datapath(lay) for lay in layers),
                            rmw * _ceil(sum(weight_words(lay) for lay in layers), mem.banks),
                            latency(0)))
    return tuple(phases)


def roofline(cfg, chip, pes=None, *, banks=None, assume=None):
    """Lower bound on cycles per training sample of ``cfg.layers`` on ``chip`` (a name or a
    :class:`Chip`).

    ``pes=None``: as many streaming PEs as the logic holds (``pe_budget``: ``(cells -
    reserved) / pe_cells``, likewise flip-flops) and every free block RAM a weight bank: the
    chip's roofline. ``pes=P`` or ``pes=(R, C)``: a given engine (with ``(R, C)`` the datapath
    counts whole tiles, ``ceil(M / R) ceil(N / C)`` a layer); its weight banks are the fewest
    that feed it one tile a cycle, ``ceil(R C / weights per word)``, or ``banks``. A given
    engine is not checked against ``pe_budget`` (the bench measures what really fits).
    Raises :class:`DoesNotFit` naming the memory and the shortfall.
    """
    if not isinstance(cfg, Config):
        raise ValueError(f"cfg must be a fewmul.config.Config, not {cfg!r}")
    chip = get_chip(chip)
    assume = Assumptions() if assume is None else assume
    if not isinstance(assume, Assumptions):
        raise ValueError(f"assume must be a fewmul.hw.roofline.Assumptions, not {assume!r}")
    n_pes, shape = _check_pes(pes)
    pe_cells = assume.pe_cells or chip.pe_cells
    pe_ffs = assume.pe_ffs or chip.pe_ffs
    budget = max(0, min((chip.logic_cells - assume.reserved_cells) // pe_cells,
                        (chip.ffs - assume.reserved_ffs) // pe_ffs))
    if n_pes is None and budget < 1:
        raise DoesNotFit(f"no PE fits {chip.name}: {pe_cells} cells and {pe_ffs} FFs a PE, "
                         f"{chip.logic_cells - assume.reserved_cells} cells and "
                         f"{chip.ffs - assume.reserved_ffs} FFs left after the reserve")
    n_pes = budget if n_pes is None else n_pes
    w_mem = chip.memory(assume.weight_memory or chip.block_memory)
    want = None if pes is None else _ceil(n_pes, _packing(w_mem, cfg.weight_bits)[1])
    mem = plan_memories(cfg, chip, assume, want_banks=want, banks=banks)
    rng = _ceil(max(sum(cfg.layers[:-1]), sum(cfg.layers[1:])), assume.draws_per_cycle)
    return Roofline(cfg=cfg, chip=chip, assume=assume, pes=n_pes, pe_budget=budget,
                    pe_cells=pe_cells, pe_ffs=pe_ffs, shape=shape, memories=mem,
                    phases=_phases(cfg, assume, mem, n_pes, shape), rng=rng)


def roofline_table(cfgs, chips, *, pes=None, assume=None, fmax_mhz=None):
    """One row (a plain dict) per ``(cfg, chip)``: :meth:`Roofline.as_row`, or for a network
    that does not fit ``{"fits": False, "reason": <the message>}`` with chip and network.

    ``fmax_mhz``: a number or ``{chip name: MHz}``; rows of those chips gain ``fmax_mhz`` and
    ``roofline_samples_per_s``.
    """
    rows = []
    for cfg in cfgs:
        for name in chips:
            chip = get_chip(name)
            try:
                row = roofline(cfg, chip, pes, assume=assume).as_row()
            except DoesNotFit as error:
                row = {"chip": chip.name, "part": chip.part, "boards": list(chip.boards),
                       "network": "-".join(str(n) for n in cfg.layers),
                       "weights": cfg.weights, "weight_bits": cfg.weight_bits,
                       "fits": False, "reason": str(error)}
            mhz = fmax_mhz.get(chip.name) if isinstance(fmax_mhz, dict) else fmax_mhz
            if mhz is not None and row["fits"]:
                row["fmax_mhz"] = mhz
                row["roofline_samples_per_s"] = mhz * 1e6 / row["cycles"]
            rows.append(row)
    return rows
