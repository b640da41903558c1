"""A virtual board: the board's top simulated by Verilator behind a pseudo-terminal.

The trainer (``system`` design of ``fewmul build``) in the board's own top
(``fewmul.boards.<board>.top``, with the PLL stood in for: ``simulated=True``) is converted to
Verilog with :class:`SimulationPlatform` in place of the board's amaranth-boards platform, so
every pin the top requests (clock, UART, LEDs) becomes a plain port named after its resource.
``sim/virtual_board.cpp`` (compiled with the model by ``verilator --cc --exe --build``) toggles
the clock, serialises the bytes it reads from a pty master onto the UART's ``rx`` pin and
deserialises the ``tx`` pin back into it (8N1 at the design's divisor). The host talks to the
pty's slave ``/dev/pts/N`` exactly as to a real board's serial port: ``fewmul.host.Device``
over ``SerialTransport`` (the pty ignores the baud rate).

The simulated clock is nominal: ``divisor * BAUD`` (:data:`DEFAULT_DIVISOR` = 8 clocks per bit
at 115200 baud is a 0.9216 MHz "board"), so a byte takes 80 clocks instead of the iCEBreaker's
2080. The model runs flat out while anything happens (a byte on either line, the engine busy)
and for ``quiet_cycles`` after (longer than the link's frame timeout, so a truncated frame is
answered TIMEOUT as on a board), then sleeps until the host writes.

:class:`ModelSources` are the Verilog and port names of one top; :func:`build_model` compiles it
(cached by content under ``build/virtual-board``); :class:`VirtualBoard` runs it. The netlist
simulation (``fewmul.sim.netlist``) builds the same harness around a synthesized netlist.
"""

import hashlib
import json
import os
import re
import select
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

from amaranth.hdl import Fragment
from amaranth.hdl._ir import PortDirection
from amaranth.lib import io

from .tools import simulator_env

__all__ = ["DEFAULT_DIVISOR", "HARNESS", "SimulationPlatform", "ModelSources", "board_sources",
           "simulated_top", "resource_name", "quiet_cycles", "build_model", "VirtualBoard",
           "VirtualBoardError", "uart_boards"]

#: UART clocks per bit of the virtual board (the UART needs at least 4).
DEFAULT_DIVISOR = 8

#: The C++ harness compiled with every model.
HARNESS = Path(__file__).with_name("virtual_board.cpp")

#: C++ optimisation of the model (verilated.mk's default is -Os): -O1 compiles about as fast
#: as -Os and runs faster; -O0 compiles a large netlist several times faster.
OPT = "-O1"


class VirtualBoardError(RuntimeError):
    """The virtual board cannot be built or started; the message says why."""


class SimulationPlatform:
    """Stands in for a board's amaranth-boards ``platform`` while its top is converted.

    :meth:`request` answers like the platform's, from the same resource descriptions, but with
    :class:`amaranth.lib.io.SimulationPort` pins (same direction, width and inversion) named
    ``<resource>_<number>[__<subsignal>]``; :meth:`ports` lists them for the Verilog top.
    """

    def __init__(self, platform):
        self._platform = platform
        self._ports = {}

    def _port(self, pins, name):
        port = io.SimulationPort(pins.dir if pins.dir in ("i", "o") else "io", len(pins.names),
                                 invert=pins.invert, name=name)
        self._ports[name] = port
        return port

    def request(self, name, number=0, *, dir=None, **kwargs):
        try:
            resource = self._platform.resources[name, number]
        except KeyError:
            raise VirtualBoardError(f"the board has no resource {name} {number}") from None
        if len(resource.ios) == 1 and not hasattr(resource.ios[0], "ios"):
            return self._port(resource.ios[0], f"{name}_{number}")
        return SimpleNamespace(**{sub.name: self._port(sub.ios[0], f"{name}_{number}__{sub.name}")
                                  for sub in resource.ios})

    def port(self, name):
        """The SimulationPort requested as ``name`` (``clk12_0``, ``uart_0__tx``, ...)."""
        return self._ports[name]

    def ports(self):
        """``{verilog name: (signal, direction)}`` of every requested pin."""
        out = {}
        for port in self._ports.values():
            if port.direction is not io.Direction.Output:
                out[port.i.name] = (port.i, PortDirection.Input)
            if port.direction is not io.Direction.Input:
                out[port.o.name] = (port.o, PortDirection.Output)
        return out


def resource_name(resource):
    """The pin name of a board file's ``(name, number[, subsignal])``: ``uart_0``, ``led_0``,
    ``rgb_led_0__r`` (the prefix of its Verilog ports)."""
    name, number, *subsignal = resource
    return f"{name}_{number}" + (f"__{subsignal[0]}" if subsignal else "")


@dataclass(frozen=True)
class ModelSources:
    """What the harness needs: Verilog files, the top module and its pins.

    ``clk``, ``rx``, ``tx``, ``busy``: Verilog port names of the board clock, the UART's input
    (host -> board) and output, and the LED that shows the engine busy (``busy_invert``: the
    LED pin is active low). ``quiet_cycles``: how long the model keeps running once nothing
    happens (see the module docstring).
    """

    verilog: tuple                 # ((file name, text), ...)
    top: str
    clk: str
    rx: str
    tx: str
    busy: str
    busy_invert: bool
    divisor: int
    quiet_cycles: int
    headers: tuple = ()            # ((file name, text), ...) the sources include
    verilator_args: tuple = ()     # more Verilator options

    def digest(self, opt=OPT):
        h = hashlib.sha256(HARNESS.read_bytes())
        h.update(json.dumps([self.verilog, self.headers, self.wrapper(), self.verilator_args,
                             opt]).encode())
        return h.hexdigest()[:16]

    def wrapper(self):
        """``vb_top``: the board top with its pins renamed for the harness (``vb_clk``,
        ``vb_rx``, ``vb_tx``, ``vb_busy`` high while the engine works); pins it leaves out
        (other inputs of the UART resource) float."""
        busy = "~busy_pin" if self.busy_invert else "busy_pin"
        return "\n".join([
            "// Generated by fewmul.sim.virtual_board: the board top's pins, renamed.",
            "module vb_top(input vb_clk, input vb_rx, output vb_tx, output vb_busy);",
            "  wire clk_pin = vb_clk;            // nets: the pins may be inout (netlist)",
            "  wire rx_pin = vb_rx;",
            "  wire tx_pin, busy_pin;",
            "  assign vb_tx = tx_pin;",
            f"  assign vb_busy = {busy};",
            f"  {self.top} board(.{self.clk}(clk_pin), .{self.rx}(rx_pin), .{self.tx}(tx_pin),",
            f"    .{self.busy}(busy_pin));",
            "endmodule",
            ""])


def uart_boards():
    """Boards whose platform has the UART the trainer needs."""
    from fewmul.boards.synth import BOARDS
    return [name for name, target in BOARDS.items()
            if ("uart", 0) in target.make_platform().resources]


def _check_uart_board(board_name):
    from fewmul.boards.synth import board
    target = board(board_name)
    if ("uart", 0) not in target.make_platform().resources:
        raise VirtualBoardError(f"board {board_name!r} has no UART for the trainer; boards with "
                                f"one: {', '.join(uart_boards())}")
    return target


def quiet_cycles(top):
    """Clocks the model runs on after the last activity: twice the link's frame timeout."""
    return 2 * top.design.link.timeout_cycles + 100 * top.uart_divisor


def simulated_top(board_name, cfg, divisor=DEFAULT_DIVISOR, data_capacity=0):
    """The board's top around the trainer for ``cfg`` (``data_capacity`` samples of on-chip
    data), PLL stood in for, at ``divisor``."""
    from fewmul.boards.designs import make_design
    from fewmul.boards.top import BAUD
    if not isinstance(divisor, int) or divisor < 4:
        raise ValueError(f"the UART divisor must be an integer >= 4, not {divisor!r}")
    target = _check_uart_board(board_name)
    top = target.board_module().top(make_design("system", cfg, data_capacity=data_capacity),
                                    clock_mhz=divisor * BAUD / 1e6, simulated=True)
    assert top.uart_divisor == divisor, (top.uart_divisor, divisor)
    return top, target


def board_sources(board_name, cfg, *, divisor=DEFAULT_DIVISOR, data_capacity=0):
    """:class:`ModelSources` of ``board_name``'s top with the trainer for ``cfg``."""
    from amaranth.back import verilog
    top, target = simulated_top(board_name, cfg, divisor, data_capacity)
    platform = SimulationPlatform(target.make_platform())
    fragment = Fragment.get(top, platform)
    text, _ = verilog.convert_fragment(fragment, platform.ports(), name="board")
    clock = resource_name(top.clock.resource)
    uart = resource_name(top.uart)
    busy = platform.port(resource_name(top.leds[0]))
    return ModelSources(verilog=(("board.v", text),), top="board", clk=f"{clock}__i",
                        rx=f"{uart}__rx__i", tx=f"{uart}__tx__o", busy=busy.o.name,
                        busy_invert=bool(busy.invert[0]), divisor=divisor,
                        quiet_cycles=quiet_cycles(top))


def default_build_root():
    return Path(os.environ.get("FEWMUL_BUILD", "build")).resolve() / "virtual-board"


def build_model(sources, build_root=None, *, opt=OPT, log=None):
    """Compile ``sources`` with the harness (C++ optimisation ``opt``); the executable's path
    (reused while sources, harness and options are unchanged)."""
    build_dir = Path(build_root or default_build_root()) / sources.digest(opt)
    exe = build_dir / "virtual_board"
    if exe.exists():
        return exe
    build_dir.mkdir(parents=True, exist_ok=True)
    for name, text in sources.verilog + sources.headers:
        (build_dir / name).write_text(text)
    files = [name for name, _ in sources.verilog]
    (build_dir / "vb_top.v").write_text(sources.wrapper())
    files.append("vb_top.v")
    argv = ["verilator", "--cc", "--exe", "--build", "-j", "1", "--top-module", "vb_top",
            "-Wno-fatal", "-Wno-lint", "-Wno-style",
            "-Wno-MULTIDRIVEN", "--x-assign", "fast", "--x-initial", "fast",
            "-CFLAGS", opt, "-o", "virtual_board",
            *sources.verilator_args, *files, str(HARNESS)]
    env = simulator_env("verilator")
    env["MAKEFLAGS"] = f"{env.get('MAKEFLAGS', '')} OPT_FAST={opt} OPT_SLOW=-O0".strip()
    started = time.monotonic()
    result = subprocess.run(argv, cwd=build_dir, env=env, capture_output=True, text=True)
    (build_dir / "build.log").write_text(result.stdout + result.stderr)
    built = build_dir / "obj_dir" / "virtual_board"
    if result.returncode != 0 or not built.exists():
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise VirtualBoardError(f"Verilator could not build the virtual board (log: "
                                f"{build_dir / 'build.log'}):\n{tail}")
    built.replace(exe)
    if log:
        log(f"built {exe} in {time.monotonic() - started:.0f} s")
    return exe


class VirtualBoard:
    """A running model: ``with VirtualBoard(exe, sources) as vb: Device(SerialTransport(vb.port))``.

    :meth:`stop` (SIGTERM) returns the harness's statistics: ``cycles``, ``run_seconds`` (wall
    time spent simulating), ``cycles_per_second`` over it, ``bytes_in`` / ``bytes_out``,
    ``framing_errors`` (bytes from the board whose stop bit was 0; a healthy design has none).
    """

    def __init__(self, exe, sources, *, link=None, start_timeout=30.0):
        argv = [str(exe), "--divisor", str(sources.divisor), "--quiet-cycles",
                str(sources.quiet_cycles)]
        if link:
            argv += ["--link", str(link)]
        self.process = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
        ready, _, _ = select.select([self.process.stdout], [], [], start_timeout)
        line = self.process.stdout.readline().strip() if ready else ""
        match = re.fullmatch(r"(/dev/\S+)", line)
        if not match:
            self.process.kill()
            self.process.wait()
            raise VirtualBoardError(f"the virtual board did not start (said {line!r})")
        self.port = match.group(1)
        self.stats = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def wait(self):
        """Until the harness ends (Ctrl-C / SIGTERM); its statistics."""
        try:
            self.process.wait()
        except KeyboardInterrupt:
            return self.stop()
        return self._collect()

    def stop(self, timeout=10.0):
        """SIGTERM the harness and collect its statistics (idempotent)."""
        if self.stats is None:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self._collect()
        return self.stats

    def _collect(self):
        if self.stats is None:
            rest = self.process.stdout.read()
            self.process.stdout.close()
            lines = [ln for ln in rest.splitlines() if ln.startswith("{")]
            self.stats = json.loads(lines[-1]) if lines else {}
            self.stats["returncode"] = self.process.returncode
        return self.stats
