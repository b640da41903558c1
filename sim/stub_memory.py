"""Test stand-in for the engine's memories behind the host link: one ``lib.memory.Memory`` per
region.

It serves :class:`fewmul.hw.link.MemoryPortSignature` (flipped), so the link can be tested
without the training engine: LOAD then READ returns the data.
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In

from fewmul.hw.link import MemoryPortSignature

__all__ = ["StubMemory"]


class StubMemory(wiring.Component):
    """Word memories of ``depths[r]`` words of ``word_bits`` bits, all initially 0.

    Ports
    -----
    bus : In(MemoryPortSignature(word_bits=word_bits, n_regions=len(depths)))
        Writes take effect in the cycle they are accepted; a read is answered on ``rdata``
        ``read_latency`` cycles after it is accepted. One command at a time: ``cmd.ready`` is
        low while a read is pending or its answer not yet taken.
    """

    read_latency = 2

    def __init__(self, *, word_bits, depths):
        self._word_bits = word_bits
        self._depths = tuple(depths)
        super().__init__({"bus": In(MemoryPortSignature(word_bits=word_bits,
                                                          n_regions=len(self._depths)))})

    def elaborate(self, platform):
        m = Module()
        cmd, rdata = self.bus.cmd, self.bus.rdata
        pending = Signal()
        region = Signal.like(cmd.payload.region)
        m.d.comb += cmd.ready.eq(~pending & ~rdata.valid)
        accept = cmd.valid & cmd.ready

        with m.If(rdata.valid & rdata.ready):
            m.d.sync += rdata.valid.eq(0)
        with m.If(accept & ~cmd.payload.write):
            m.d.sync += [pending.eq(1), region.eq(cmd.payload.region)]

        for index, depth in enumerate(self._depths):
            mem = memory.Memory(shape=self._word_bits, depth=depth, init=[])
            m.submodules[f"region{index}"] = mem
            write, read = mem.write_port(), mem.read_port()
            selected = cmd.payload.region == index
            m.d.comb += [write.addr.eq(cmd.payload.address), write.data.eq(cmd.payload.data),
                         write.en.eq(accept & cmd.payload.write & selected),
                         read.addr.eq(cmd.payload.address)]
            with m.If(pending & (region == index)):
                m.d.sync += [rdata.payload.eq(read.data), rdata.valid.eq(1), pending.eq(0)]
        return m
