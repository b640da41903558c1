"""The host driver's transport into a simulated link: frames straight into its byte streams.

:class:`CocotbStreamTransport` is what :class:`fewmul.host.AsyncDevice` talks through in a cocotb
testbench (no UART: one byte per clock), so the simulated link is driven by the same driver and
frames as a board.
"""

import cocotb
from cocotb.triggers import FallingEdge, RisingEdge, with_timeout
from cocotb.utils import get_sim_time

from fewmul.protocol import FrameDecoder, LinkError

__all__ = ["CocotbStreamTransport"]


def _level(signal):
    value = signal.value
    return int(value) if value.is_resolvable else 0


class CocotbStreamTransport:
    """A link's request and response byte streams in a cocotb simulation.

    ``dut`` is the simulated top; ``i`` and ``o`` name its request and response stream ports
    (``<i>__valid``, ``<i>__payload``, ``<i>__ready`` and the same for ``o``); the link is
    clocked by ``dut.clk`` with a period of ``clock_ns``. :meth:`exchange` (a coroutine) sends
    the frame one byte per clock while ``i.ready`` is high (``i.ready`` must not depend
    combinationally on ``i.valid``; the link's is always high), then sleeps until ``o.valid``
    rises and takes the response byte by byte with ``o.ready`` held high, then waits
    ``gap_cycles`` clocks (the link returns to its idle state). Python wakes once per byte,
    never while the device computes. ``cycles`` counts the clocks all exchanges took.
    """

    def __init__(self, dut, *, i="i", o="o", timeout_cycles=200_000, clock_ns=10, gap_cycles=4):
        self.dut = dut
        self._i = {k: getattr(dut, f"{i}__{k}") for k in ("valid", "payload", "ready")}
        self._o = {k: getattr(dut, f"{o}__{k}") for k in ("valid", "payload", "ready")}
        self.timeout_cycles = timeout_cycles
        self.clock_ns = clock_ns
        self.gap_cycles = gap_cycles
        self.cycles = 0
        self._i["valid"].value = 0
        self._o["ready"].value = 1

    def _now(self):
        return get_sim_time(unit="ns") // self.clock_ns

    async def exchange(self, request):
        clk, i, o = self.dut.clk, self._i, self._o
        start = self._now()
        for byte in request:
            i["payload"].value = byte
            i["valid"].value = 1
            while True:            # at a falling edge, ready is what the next rising edge sees
                taken = _level(i["ready"])
                await FallingEdge(clk)
                if taken:
                    break
                if self._now() - start > self.timeout_cycles:
                    i["valid"].value = 0
                    raise LinkError(f"request not taken within {self.timeout_cycles} cycles")
        i["valid"].value = 0
        o["ready"].value = 1
        decoder = FrameDecoder()
        while True:
            if not _level(o["valid"]):
                try:
                    await with_timeout(RisingEdge(o["valid"]),
                                       self.clock_ns * self.timeout_cycles, "ns")
                except cocotb.triggers.SimTimeoutError:
                    raise LinkError(f"no response within {self.timeout_cycles} cycles") from None
                await FallingEdge(clk)
            while _level(o["valid"]):
                frames = decoder.feed([int(o["payload"].value)])
                await FallingEdge(clk)
                if frames:
                    for _ in range(self.gap_cycles):
                        await FallingEdge(clk)
                    self.cycles += self._now() - start
                    return frames[0]
