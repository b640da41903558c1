"""The board top every board file builds: PLL clock + the design + status LEDs.

Two kinds of design:

- a component with byte streams ``i`` / ``o`` (the whole trainer, ``hw.engine.EngineSystem``:
  host link + engine + array) is wired to the board's UART (``hw.uart.UART`` at
  :data:`BAUD`); the LEDs show busy, heartbeat, PLL locked;
- any other component (a bare ``PEArray`` or ``MultiplierArray``) sits in a
  :class:`RegisteredHarness` (every input fed from a serial chain, every output registered and
  XOR-folded to an LED) so place-and-route keeps all of it and times register -> design ->
  register at the PLL clock; the LEDs show the folded output, heartbeat, PLL locked.

Boards with fewer LEDs show the first ones.
"""

from amaranth.hdl import ClockDomain, Elaboratable, Module, Signal
from amaranth.lib import io, wiring
from amaranth.lib.cdc import ResetSynchronizer

from .clocks import PLLClock
from .harness import RegisteredHarness

__all__ = ["BAUD", "BoardTop", "is_linked"]

#: Host link baud rate.
BAUD = 115200


def is_linked(design):
    """Whether ``design`` talks bytes (``i`` / ``o`` streams) and so goes on the UART."""
    members = design.signature.members
    return "i" in members and "o" in members


class BoardTop(Elaboratable):
    """``design`` (a Component) on a board, clocked at ``clock_mhz`` by the family's PLL.

    ``clock`` is ``(resource name, number, MHz)`` of the oscillator; ``data_pin`` the input
    resource feeding the harness; ``leds`` a list of single-bit output resources, or
    ``("rgb_led", 0)``-style resources given as ``(name, number, subsignal)``.
    ``simulated``: the PLL is stood in for (:class:`~fewmul.boards.clocks.PLLClock`): the board
    clock pin drives ``sync`` directly at a nominal ``clock_mhz``, so a simulation may pick a
    clock that gives a small UART divisor. ``baud``: the UART's baud rate (default
    :data:`BAUD`; the divisor is the clock over it, at least 4 clocks a bit); 3,000,000 suits
    the FT2232H of the iCEBreaker and the FT231X of the ULX3S.
    """

    def __init__(self, design, *, family, clock, clock_mhz, data_pin, leds, uart=("uart", 0),
                 simulated=False, baud=BAUD):
        if isinstance(baud, bool) or not isinstance(baud, int) or baud <= 0:
            raise ValueError(f"baud must be a positive integer, not {baud!r}")
        self.design = design
        self.baud = baud
        self.linked = is_linked(design)
        self.harness = None if self.linked else RegisteredHarness(design, data_pin=data_pin,
                                                                   led=None)
        self.clock = PLLClock(family=family, resource=clock[:2], input_mhz=clock[2],
                              target_mhz=clock_mhz, simulated=simulated)
        self.leds = list(leds)
        self.uart = uart

    @property
    def uart_divisor(self):
        return round(self.clock_mhz * 1e6 / self.baud)

    @property
    def clock_mhz(self):
        """The array clock the PLL really produces."""
        return self.clock.output_mhz

    def elaborate(self, platform):
        m = Module()
        m.submodules.clock = self.clock
        m.domains.sync = cd_sync = ClockDomain("sync")
        m.d.comb += cd_sync.clk.eq(self.clock.clk)
        m.submodules.reset_sync = ResetSynchronizer(~self.clock.lock, domain="sync")
        locked = Signal()
        m.d.sync += locked.eq(1)
        heartbeat = _heartbeat(m, max(1, int(self.clock_mhz * 1e6).bit_length() - 1))
        if self.linked:
            from fewmul.hw.uart import UART
            m.submodules.design = self.design
            m.submodules.uart = uart = UART(divisor=self.uart_divisor)
            pins = platform.request(*self.uart, dir={"tx": "-", "rx": "-"})
            m.submodules.tx = tx = io.Buffer("o", pins.tx)
            m.submodules.rx = rx = io.FFBuffer("i", pins.rx)
            m.d.comb += [tx.o.eq(uart.tx), uart.rx.eq(rx.i)]
            wiring.connect(m, uart.o, self.design.i)
            wiring.connect(m, self.design.o, uart.i)
            status = [self.design.busy, heartbeat[-1], locked]
        else:
            m.submodules.harness = self.harness
            status = [self.harness.folded, heartbeat[-1], locked]
        requested = {}
        for index, (led, value) in enumerate(zip(self.leds, status, strict=False)):
            name, number, *subsignal = led
            if (name, number) not in requested:
                requested[name, number] = platform.request(name, number, dir="-")
            port = requested[name, number]
            if subsignal:
                port = getattr(port, subsignal[0])
            m.submodules[f"led_{index}"] = buffer = io.Buffer("o", port)
            m.d.comb += buffer.o.eq(value)
        return m


def _heartbeat(m, bits):
    """A free-running ``bits``-bit count (about 0.5 s a period at the clock), in two halves: the
    upper counts the lower 8 bits' wraps through a register, so the longest carry chain is 8 bits
    shorter (the 24-bit one was the critical path of a fast block on the iCE40, 12.5 ns)."""
    low = Signal(min(bits, 8))
    m.d.sync += low.eq(low + 1)
    if bits <= 8:
        return low
    wrapped = Signal()
    high = Signal(bits - 8)
    m.d.sync += [wrapped.eq(low.all()), high.eq(high + wrapped)]
    return high

