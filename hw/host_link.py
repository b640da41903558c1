"""The board side of the host link: UART pins in, memory and engine ports out.

:class:`HostLink` is a :class:`fewmul.hw.uart.UART` feeding a :class:`fewmul.hw.link.Link`.
A board top requests the UART pins and wires them to ``rx``/``tx``; the training engine serves
``mem`` (its weight and bias memories) and ``engine`` (RESET, SEED, TRAIN, PREDICT, COUNTERS),
as specified in ``docs/protocol.md`` section 6.
"""

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ._checks import refusable
from .link import EnginePortSignature, Link, MemoryPortSignature
from .uart import UART

__all__ = ["HostLink"]


class HostLink(wiring.Component):
    """UART (8N1, ``divisor`` clocks per bit) + :class:`Link`.

    Parameters
    ----------
    divisor : int
        Clocks per bit: ``round(f_clk / baud)``.
    word_bits, depths, max_payload :
        As for :class:`Link`.
    timeout_cycles : int or None
        Inter-byte timeout; ``None`` picks 30 bit times (3 byte times).

    Ports
    -----
    rx : In(1)
    tx : Out(1)
    mem : Out(MemoryPortSignature(word_bits=word_bits, n_regions=len(depths)))
    engine : Out(EnginePortSignature())
    framing_error, overrun : Out(1)
        The UART receiver's pulses (line noise; the link's CRC rejects what they damage).
    """

    @refusable
    def __init__(self, *, divisor, word_bits, depths, max_payload=256, timeout_cycles=None):
        self.uart = UART(divisor=divisor)
        self.link = Link(word_bits=word_bits, depths=depths, max_payload=max_payload,
                         timeout_cycles=30 * divisor if timeout_cycles is None else timeout_cycles)
        super().__init__({
            "rx": In(1, init=1),
            "tx": Out(1, init=1),
            "mem": Out(MemoryPortSignature(word_bits=word_bits, n_regions=len(depths))),
            "engine": Out(EnginePortSignature()),
            "framing_error": Out(1),
            "overrun": Out(1),
        })

    @property
    def timeout_cycles(self):
        return self.link.timeout_cycles

    def elaborate(self, platform):
        m = Module()
        m.submodules.uart = uart = self.uart
        m.submodules.link = link = self.link
        wiring.connect(m, uart.o, link.i)
        wiring.connect(m, link.o, uart.i)
        wiring.connect(m, link.mem, wiring.flipped(self.mem))
        wiring.connect(m, link.engine, wiring.flipped(self.engine))
        m.d.comb += [uart.rx.eq(self.rx), self.tx.eq(uart.tx), uart.loopback.eq(0),
                     self.framing_error.eq(uart.framing_error), self.overrun.eq(uart.overrun)]
        return m
