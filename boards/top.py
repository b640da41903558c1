"""The board top every board file builds: PLL clock + the design + status LEDs.

Until the UART host link exists, the design sits in a :class:`RegisteredHarness` (every input
fed from a serial chain, every output registered and XOR-folded to an LED) so place-and-route
keeps all of it and times register -> design -> register at the PLL clock.

Status LEDs, in the order of the board's ``leds``: the folded design output, a heartbeat
(about 1 Hz at the array clock) and "PLL locked". Boards with fewer LEDs show the first ones.
"""

from amaranth.hdl import Elaboratable, Module, Signal
from amaranth.lib import io

from .clocks import PLLClock
from .harness import RegisteredHarness

__all__ = ["BoardTop"]


class BoardTop(Elaboratable):
    """``design`` (a Component) on a board, clocked at ``clock_mhz`` by the family's PLL.

    ``clock`` is ``(resource name, number, MHz)`` of the oscillator; ``data_pin`` the input
    resource feeding the harness; ``leds`` a list of single-bit output resources, or
    ``("rgb_led", 0)``-style resources given as ``(name, number, subsignal)``.
    """

    def __init__(self, design, *, family, clock, clock_mhz, data_pin, leds):
        self.design = design
        self.harness = RegisteredHarness(design, data_pin=data_pin, led=None)
        self.clock = PLLClock(family=family, resource=clock[:2], input_mhz=clock[2],
                              target_mhz=clock_mhz)
        self.leds = list(leds)

    @property
    def clock_mhz(self):
        """The array clock the PLL really produces."""
        return self.clock.output_mhz

    def elaborate(self, platform):
        m = Module()
        m.submodules.clock = self.clock
        m.submodules.harness = self.harness
        heartbeat = Signal(max(1, int(self.clock_mhz * 1e6).bit_length() - 1))
        m.d.sync += heartbeat.eq(heartbeat + 1)
        status = [self.harness.folded, heartbeat[-1], self.clock.locked]
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
