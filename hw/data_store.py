"""The training set on chip: samples and labels, uploaded once, read by the engine per step.

``DataStore(cfg, capacity=..., spare=...)`` holds ``capacity + spare`` sample slots
(``docs/engine.md``). A slot is ``stride`` words of ``K`` inputs (the network's first layer
boundary: ``vec_words[0]`` words, rounded up to a power of two so that a slot's first word is a
shift of its index) and one label byte. Slots ``0 .. capacity - 1`` hold the data set; the
``spare`` slots after them hold what arrives in a frame before it is accepted (DATA's records,
TRAIN's and PREDICT's sample): a DATA frame is first written to the spare slots and copied to
its place only when every record is good, so a bad frame changes nothing.

Ports
-----
write_en, write_slot, write_element, write_value : In
    One input value ``x[element]`` of a slot (a lane write), in the memory one cycle later:
    the request is registered first (its value comes straight from the link's block RAM,
    whose slow clock-to-out and a long wire to this memory were one path). A copy started in
    the cycle after the last write sees it.
label_en, label_slot, label_value : In
    One label, registered the same way.
copy_start, copy_from, copy_to, copy_count : In ; copy_busy : Out
    Copy ``copy_count`` whole slots (inputs and labels), one word a cycle.
label_read_slot : In ; label_read : Out(8)
    A label, one cycle after its slot (synchronous).
read_addr : In ; read_word : Out(K lanes)
    The engine's read of a word (``slot * stride + word``), one cycle later.
"""

from amaranth.hdl import Const, Elaboratable, Module, Mux, Shape, Signal, signed
from amaranth.lib import data, memory
from amaranth.lib.wiring import In, Out

from ._checks import ConfigComponent, refusable
from .engine_plan import EnginePlan

__all__ = ["DataStore"]


class DataStore(ConfigComponent):
    """Sample slots of the data set and the frames being received (module docstring)."""

    @refusable
    def __init__(self, cfg, *, capacity, spare):
        for name, value, low in (("capacity", capacity, 0), ("spare", spare, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, not {value!r}")
        if capacity + spare > 65535:
            raise ValueError(f"capacity + spare must be at most 65535 slots, not "
                             f"{capacity + spare}")
        self._plan = EnginePlan(cfg)
        self._capacity, self._spare = capacity, spare
        super().__init__(cfg)

    @property
    def capacity(self):
        return self._capacity

    @property
    def spare(self):
        return self._spare

    @property
    def slots(self):
        return self._capacity + self._spare

    @property
    def stride(self):
        """Words per slot: ``vec_words[0]`` rounded up to a power of two."""
        return 1 << (self._plan.vec_words[0] - 1).bit_length()

    @property
    def bits(self):
        """Input bits the slots hold (what a board's memory budget counts)."""
        return self.slots * (self.stride * self._plan.lanes * self._cfg.act_bits + 8)

    def members(self, cfg):
        K = self._plan.lanes
        slot = range(max(self.slots, 2))
        return {
            "write_en": In(1),
            "write_slot": In(slot),
            "write_element": In(range(max(cfg.layers[0], 2))),
            "write_value": In(signed(cfg.act_bits)),
            "label_en": In(1),
            "label_slot": In(slot),
            "label_value": In(8),
            "copy_start": In(1),
            "copy_from": In(slot),
            "copy_to": In(slot),
            "copy_count": In(slot),
            "copy_busy": Out(1),
            "label_read_slot": In(slot),
            "label_read": Out(8),
            "read_addr": In(range(max(self.slots * self.stride, 2))),
            "read_word": Out(data.ArrayLayout(signed(cfg.act_bits), K)),
        }

    #: Deepest store kept as one memory ``K`` lanes wide; a deeper one is stored one bit a
    #: memory (:meth:`elaborate`).
    SLICE_DEPTH = 2048

    def elaborate(self, platform):
        m = Module()
        K = self._plan.lanes
        k_log, s_log = K.bit_length() - 1, self.stride.bit_length() - 1
        depth = max(self.slots * self.stride, 2)
        words = _Words(self.read_word.shape(), depth, sliced=depth > self.SLICE_DEPTH)
        labels = memory.Memory(shape=8, depth=max(self.slots, 2), init=[])
        m.submodules.words, m.submodules.labels = words, labels
        l_wr, l_rd = labels.write_port(), labels.read_port()

        # the copy: read word n in cycle t, write it in t + 1 (labels with each slot's word 0);
        # it has the read ports to itself (the front end starts no step while it runs)
        source = Signal(range(depth + 1))
        target = Signal.like(source)
        remaining = Signal(range(depth + 1))
        copying = Signal()
        wrote = Signal()
        wrote_to = Signal.like(target)
        m.d.comb += [
            words.read_addr.eq(Mux(copying, source, self.read_addr)),
            self.read_word.eq(words.read_data),
            l_rd.addr.eq(Mux(copying, source >> s_log, self.label_read_slot)),
            self.label_read.eq(l_rd.data),
        ]
        m.d.sync += [wrote.eq(copying), wrote_to.eq(target)]
        with m.If(copying):
            m.d.sync += [source.eq(source + 1), target.eq(target + 1),
                         remaining.eq(remaining - 1)]
            with m.If(remaining == 1):
                m.d.sync += copying.eq(0)
        with m.If(self.copy_start & (self.copy_count != 0)):
            m.d.sync += [copying.eq(1), source.eq(self.copy_from << s_log),
                         target.eq(self.copy_to << s_log), remaining.eq(self.copy_count << s_log)]
        m.d.comb += self.copy_busy.eq(copying | wrote)

        # the write register: a lane write or a label lands one cycle after its request
        write_en, write_slot = Signal(), Signal.like(self.write_slot)
        write_element, write_value = Signal.like(self.write_element), Signal.like(self.write_value)
        label_en, label_slot = Signal(), Signal.like(self.label_slot)
        label_value = Signal.like(self.label_value)
        m.d.sync += [write_en.eq(self.write_en), write_slot.eq(self.write_slot),
                     write_element.eq(self.write_element), write_value.eq(self.write_value),
                     label_en.eq(self.label_en), label_slot.eq(self.label_slot),
                     label_value.eq(self.label_value)]

        lane = write_element[:k_log] if k_log else 0
        with m.If(wrote):
            m.d.comb += [words.write_addr.eq(wrote_to), words.write_data.eq(words.read_data),
                         words.write_lanes.eq((1 << K) - 1)]
        with m.Else():
            m.d.comb += [words.write_addr.eq((write_slot << s_log) + (write_element >> k_log)),
                         words.write_data.eq(write_value.replicate(K)),
                         words.write_lanes.eq(((Const(1, K) << lane)[:K])
                                              & write_en.replicate(K))]
        first_word = wrote_to[:s_log] == 0 if s_log else 1
        with m.If(wrote & first_word):
            m.d.comb += [l_wr.addr.eq(wrote_to >> s_log), l_wr.data.eq(l_rd.data),
                         l_wr.en.eq(1)]
        with m.Else():
            m.d.comb += [l_wr.addr.eq(label_slot), l_wr.data.eq(label_value),
                         l_wr.en.eq(label_en)]
        return m


class _Words(Elaboratable):
    """The sample words: one write port (a write enable per lane) and one synchronous read
    port, data one cycle after its address.

    ``sliced``: one memory a bit instead of one ``K`` lanes wide. A deep store in one wide
    memory is several block RAMs deep, and a select by the address follows them (on the ULX3S
    trainer a 23-way select across 46 DP16KD in their 512 x 36 shape, between the blocks'
    slow clock-to-out and the sequencer's read register: one build's critical path). One bit
    wide, each memory maps to blocks in their deepest shape (the ECP5's DP16KD 16k x 1: one
    block, no select, up to 16,384 words).
    """

    def __init__(self, shape, depth, *, sliced):
        self._shape, self._depth, self._sliced = shape, depth, sliced
        self._bits = Shape.cast(shape).width
        self.write_addr = Signal(range(depth))
        self.write_data = Signal(shape)
        self.write_lanes = Signal(shape.length)
        self.read_addr = Signal(range(depth))
        self.read_data = Signal(shape)

    def elaborate(self, platform):
        m = Module()
        if not self._sliced:
            mem = m.submodules.mem = memory.Memory(shape=self._shape, depth=self._depth, init=[])
            wr, rd = mem.write_port(granularity=1), mem.read_port()
            m.d.comb += [wr.addr.eq(self.write_addr), wr.data.eq(self.write_data),
                         wr.en.eq(self.write_lanes), rd.addr.eq(self.read_addr),
                         self.read_data.eq(rd.data)]
            return m
        lane_bits = self._bits // len(self.write_lanes)
        write_bits, read_bits = self.write_data.as_value(), self.read_data.as_value()
        for bit in range(self._bits):
            mem = memory.Memory(shape=1, depth=self._depth, init=[])
            m.submodules[f"bit{bit}"] = mem
            wr, rd = mem.write_port(), mem.read_port()
            m.d.comb += [wr.addr.eq(self.write_addr), wr.data.eq(write_bits[bit]),
                         wr.en.eq(self.write_lanes[bit // lane_bits]),
                         rd.addr.eq(self.read_addr), read_bits[bit].eq(rd.data)]
        return m
