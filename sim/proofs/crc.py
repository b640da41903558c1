"""The link's CRC (``fewmul.protocol.FRAME_CRC.create()``: the ``amaranth.lib.crc`` processor
that ``hw/link.py`` instantiates) against CRC-16/CCITT-FALSE written out bit by bit here.

Spec (not taken from the library): polynomial 0x1021, initial value 0xFFFF, no input or output
reflection, no final XOR. One byte: ``crc ^= byte << 8``, then 8 times ``crc = (crc << 1) ^
0x1021 if crc[15] else crc << 1`` (mod 2^16). A good frame (covered bytes, then their CRC most
significant byte first) leaves 0.

- ``crc.processor``: at every clock, ``crc' = valid ? spec(start ? 0xFFFF : crc, data) : start ?
  0xFFFF : crc``, 0xFFFF after reset, and ``match_detected == (crc == 0)``;
- ``crc.spec_next``: :func:`spec_next`, the flat-XOR byte update the link proof's monitors use
  (fast for the solver), equals the bitwise definition for all 2^24 (CRC, byte) pairs.

The software side (``FRAME_CRC.compute``, check value 0x29B1) is tested in ``tests/test_crc.py``.
"""

from functools import partial

from amaranth.asserts import AnyConst, AnySeq
from amaranth.hdl import Assert, Cat, Cover, Module, Mux, Signal
from amaranth.lib import crc, wiring
from amaranth.lib.wiring import In, Out

from ..formal import Proof
from ._harness import Harness, mutated

__all__ = ["POLY", "INIT", "bitwise_update", "bitwise_crc16", "spec_next", "proofs", "mutants"]

BLOCK = "fewmul.hw.link"

POLY = 0x1021
INIT = 0xFFFF


def bitwise_update(value, byte):
    """The bitwise byte update on Python integers."""
    value ^= byte << 8
    for _ in range(8):
        value = ((value << 1) ^ POLY) if value & 0x8000 else value << 1
        value &= 0xFFFF
    return value


def bitwise_crc16(m, value, byte):
    """The bitwise byte update in gates; one signal per bit step (nesting the 8 steps as one
    expression would repeat ``value`` 3^8 times)."""
    step = Signal(16)
    m.d.comb += step.eq(value ^ (byte << 8))
    for _ in range(8):
        following = Signal(16)
        m.d.comb += following.eq(Mux(step[15], ((step << 1) ^ POLY) & 0xFFFF,
                                     (step << 1) & 0xFFFF))
        step = following
    return step


def _update_masks():
    """Per output bit, the CRC bits and data bits it is the XOR of (the update is linear)."""
    return tuple((sum(1 << i for i in range(16) if bitwise_update(1 << i, 0) >> bit & 1),
                  sum(1 << i for i in range(8) if bitwise_update(0, 1 << i) >> bit & 1))
                 for bit in range(16))


_MASKS = _update_masks()


def spec_next(value, byte):
    """Expression: the CRC after ``byte`` given ``value``, one flat XOR per bit, derived from
    :func:`bitwise_update` (``crc.spec_next`` proves it equal to the bitwise gates)."""
    return Cat(*((value & crc_mask).xor() ^ (byte & data_mask).xor()
                 for crc_mask, data_mask in _MASKS))


class _Processor(wiring.Component):
    """A CRC processor with the ports of ``amaranth.lib.crc.Processor`` as a component, so a
    mutant can corrupt its inputs and outputs."""

    start: In(1)
    valid: In(1)
    data: In(8)
    crc: Out(16)
    match_detected: Out(1)

    def __init__(self, parameters=None):
        from fewmul.protocol import FRAME_CRC
        self._parameters = parameters or FRAME_CRC
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.submodules.processor = processor = self._parameters.create()
        m.d.comb += [processor.start.eq(self.start), processor.valid.eq(self.valid),
                     processor.data.eq(self.data), self.crc.eq(processor.crc),
                     self.match_detected.eq(processor.match_detected)]
        return m


def _processor(m, make, *, covers=False):
    m.submodules.dut = dut = make()
    start, valid, data = AnySeq(1), AnySeq(1), AnySeq(8)
    m.d.comb += [dut.start.eq(start), dut.valid.eq(valid), dut.data.eq(data)]
    started = Signal()
    prev_crc, prev_data = Signal(16), Signal(8)
    prev_start, prev_valid = Signal(), Signal()
    m.d.sync += [started.eq(1), prev_crc.eq(dut.crc), prev_data.eq(data),
                 prev_start.eq(start), prev_valid.eq(valid)]
    m.d.comb += Assert(dut.match_detected == (dut.crc == 0))
    with m.If(~started):
        m.d.comb += Assert(dut.crc == INIT)
    with m.Elif(prev_valid):
        source = Mux(prev_start, INIT, prev_crc)
        m.d.comb += Assert(dut.crc == bitwise_crc16(m, source, prev_data))
    with m.Elif(prev_start):
        m.d.comb += Assert(dut.crc == INIT)
    with m.Else():
        m.d.comb += Assert(dut.crc == prev_crc)
    if covers:
        m.d.comb += Cover(started & prev_valid & ~prev_start & dut.match_detected)


class _Function:
    """:func:`spec_next` as a block, so a mutant can replace it."""

    def __init__(self, fn=spec_next):
        self.fn = fn


def _spec_next(m, make):
    fn = make().fn
    value, byte = AnyConst(16), AnyConst(8)
    result = Signal(16)
    m.d.comb += result.eq(fn(value, byte))
    m.d.comb += Assert(result == bitwise_crc16(m, value, byte))


def proofs():
    return [
        Proof(name="crc.processor", block="crc",
              prop="the link's lib.crc processor: crc' = valid ? crc16(start ? 0xFFFF : crc, "
                   "data) : start ? 0xFFFF : crc; match_detected = (crc == 0)",
              build=partial(Harness, _processor, _Processor), mode="prove", depth=2),
        Proof(name="crc.spec_next", block="crc",
              prop="the proofs' flat-XOR update = bitwise CRC-16/CCITT-FALSE, all 2^24 inputs",
              build=partial(Harness, _spec_next, _Function), mode="prove", depth=1),
        Proof(name="crc.corners", block="crc", prop="reachable: a zero residue (a good frame)",
              build=partial(Harness, partial(_processor, covers=True), _Processor),
              mode="cover", depth=4),
    ]


def _algorithm(**changes):
    fields = dict(crc_width=16, polynomial=POLY, initial_crc=INIT, reflect_input=False,
                  reflect_output=False, xor_output=0) | changes
    return crc.Algorithm(**fields)(8)


def mutants():
    processor, spec = proofs()[:2]
    return [
        mutated(processor, _processor, partial(_Processor, _algorithm(polynomial=0x8005)),
                "other_polynomial"),
        mutated(processor, _processor, partial(_Processor, _algorithm(initial_crc=0)),
                "zero_init"),
        mutated(processor, _processor, partial(_Processor, _algorithm(reflect_input=True)),
                "reflected_input"),
        mutated(processor, _processor, _Processor, "start_ignored",
                inputs={"start": lambda s: 0}, depth=4),
        mutated(processor, _processor, _Processor, "data_bit_flipped",
                inputs={"data": lambda d: d ^ 0x80}),
        mutated(spec, _spec_next, partial(_Function, lambda v, b: spec_next(v, b)
                                          ^ Mux(v[15] ^ b[7], 0x0001, 0)),
                "polynomial_bit0"),
    ]
