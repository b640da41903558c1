"""Simulation tops for the link: :class:`LinkSystem` (the link with its test stand-ins) and
:class:`LinkHarness` (that system plus a byte player and a response recorder, so a testbench
hands over whole byte strings instead of waking every clock).

A cocotb process costs far more per wake-up than the simulated link per clock; with the player
and recorder the fuzz wakes a few times per frame rather than once per byte, which is what lets
10,000 frames run on Icarus in well under a minute. Not for synthesis (wide ports).
"""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from fewmul.hw.link import Link

from .stub_engine import StubEngine
from .stub_memory import StubMemory

__all__ = ["LinkSystem", "LinkHarness"]


class LinkSystem(wiring.Component):
    """:class:`fewmul.hw.link.Link` + :class:`StubMemory` + :class:`StubEngine`: the unit the link
    testbench drives; ports ``i`` and ``o`` only. Its Python twin is
    ``fewmul.sim.link_model.LinkModel``."""

    def __init__(self, *, word_bits, depths, max_payload=256, timeout_cycles=1000,
                 sample_bytes=64, n_classes=10):
        self.link = Link(word_bits=word_bits, depths=depths, max_payload=max_payload,
                         timeout_cycles=timeout_cycles)
        self.memory = StubMemory(word_bits=word_bits, depths=depths)
        self.stub = StubEngine(sample_bytes=sample_bytes, n_classes=n_classes)
        super().__init__({"i": In(stream.Signature(8)), "o": Out(stream.Signature(8))})

    def elaborate(self, platform):
        m = Module()
        m.submodules.link = self.link
        m.submodules.memory = self.memory
        m.submodules.stub = self.stub
        wiring.connect(m, wiring.flipped(self.i), self.link.i)
        wiring.connect(m, self.link.o, wiring.flipped(self.o))
        wiring.connect(m, self.link.mem, self.memory.bus)
        wiring.connect(m, self.link.engine, self.stub.engine)
        return m


class LinkHarness(wiring.Component):
    """:class:`LinkSystem` driven either directly (``i``/``o``) or by the player and recorder.

    Ports
    -----
    i, o : stream byte ports of the link, used while ``autoplay`` is low.
    autoplay : In(1)
        High: the player feeds the link and the recorder takes its output.
    play_data : In(8 * play_bytes)
        Bytes to send, first byte in the least significant bits.
    play_length : In(range(play_bytes + 1))
    play_sequence : In(8)
        Any change starts playing ``play_length`` bytes of ``play_data`` (sampled then).
    play_done : Out(1)
        Low while playing.
    gap_threshold, stall_threshold : In(8)
        A byte waits one idle clock when the harness's LFSR byte is below ``gap_threshold``; the
        recorder holds ``o.ready`` low when another LFSR byte is below ``stall_threshold``.
    record : Out(8 * record_bytes)
        The last ``record_bytes`` response bytes, the newest in the most significant bits.
    record_count : Out(32)
        Response bytes taken since reset.
    record_target : In(32)
    record_hit : Out(1)
        ``record_count >= record_target`` (a testbench raises the target, then waits for the
        rising edge).
    """

    def __init__(self, *, play_bytes=80, record_bytes=72, **system):
        self._play_bytes = play_bytes
        self._record_bytes = record_bytes
        self.system = LinkSystem(**system)
        super().__init__({
            "i": In(stream.Signature(8)),
            "o": Out(stream.Signature(8)),
            "autoplay": In(1),
            "play_data": In(8 * play_bytes),
            "play_length": In(range(play_bytes + 1)),
            "play_sequence": In(8),
            "play_done": Out(1),
            "gap_threshold": In(8),
            "stall_threshold": In(8),
            "record": Out(8 * record_bytes),
            "record_count": Out(32),
            "record_target": In(32),
            "record_hit": Out(1),
        })

    @property
    def play_bytes(self):
        return self._play_bytes

    @property
    def record_bytes(self):
        return self._record_bytes

    def elaborate(self, platform):
        m = Module()
        m.submodules.system = system = self.system

        lfsr = Signal(16, init=0xACE1)        # Galois LFSR, taps 16, 14, 13, 11
        with m.If(self.autoplay & (~self.play_done | self.system.o.valid)):   # rests when idle
            m.d.sync += lfsr.eq(Mux(lfsr[0], (lfsr >> 1) ^ 0xB400, lfsr >> 1))
        gap = lfsr[:8] < self.gap_threshold
        stall = lfsr[8:] < self.stall_threshold

        data = Signal(8 * self._play_bytes)
        remaining = Signal(range(self._play_bytes + 1))
        last_sequence = Signal(8)
        m.d.comb += self.play_done.eq(remaining == 0)
        with m.If(self.play_sequence != last_sequence):
            m.d.sync += [last_sequence.eq(self.play_sequence), data.eq(self.play_data),
                         remaining.eq(self.play_length)]

        player_valid = (remaining != 0) & ~gap
        with m.If(self.autoplay):
            m.d.comb += [system.i.valid.eq(player_valid), system.i.payload.eq(data[:8]),
                         system.o.ready.eq(~stall)]
            with m.If(player_valid & system.i.ready):
                m.d.sync += [data.eq(data >> 8), remaining.eq(remaining - 1)]
        with m.Else():
            m.d.comb += [system.i.valid.eq(self.i.valid), system.i.payload.eq(self.i.payload),
                         self.i.ready.eq(system.i.ready), system.o.ready.eq(self.o.ready)]
        m.d.comb += [self.o.valid.eq(system.o.valid & ~self.autoplay),
                     self.o.payload.eq(system.o.payload)]

        with m.If(self.autoplay & system.o.valid & system.o.ready):
            m.d.sync += [self.record.eq(Cat(self.record[8:], system.o.payload)),
                         self.record_count.eq(self.record_count + 1)]
        m.d.comb += self.record_hit.eq(self.record_count >= self.record_target)
        return m
