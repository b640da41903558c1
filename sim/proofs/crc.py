"""CRC-16 (``hw/crc.py``) against the textbook bitwise CRC-16/CCITT-FALSE.

Spec: ``crc ^= byte << 8``, then 8 times ``crc = (crc << 1) ^ 0x1021 if crc[15] else crc << 1``
(mod 2^16); initial value 0xFFFF. ``byte_update`` proves ``crc16_next`` equal to it for all
2^24 (CRC, byte) pairs; ``register`` proves ``CRC16``: ``value' = clear ? 0xFFFF : valid ?
spec(value, data) : value`` and ``next_value = spec(value, data)``.
"""

from functools import partial

from amaranth.asserts import AnyConst, AnySeq
from amaranth.hdl import Assert, Cover, Mux, Signal

from ..formal import Proof
from ._harness import Harness, mutated

BLOCK = "fewmul.hw.crc"

INIT = 0xFFFF


def bitwise_crc16(m, crc, byte):
    """The bitwise CRC update; one signal per bit step (nesting the 8 steps as one expression
    would repeat ``crc`` 3^8 times)."""
    step = Signal(16)
    m.d.comb += step.eq(crc ^ (byte << 8))
    for _ in range(8):
        following = Signal(16)
        m.d.comb += following.eq(Mux(step[15], ((step << 1) ^ 0x1021) & 0xFFFF,
                                     (step << 1) & 0xFFFF))
        step = following
    return step


class _Function:
    """``crc16_next`` as a block, so a mutant can replace it."""

    def __init__(self, fn=None):
        from fewmul.hw.crc import crc16_next
        self.fn = fn or crc16_next


def _byte_update(m, make, *, covers=False):
    fn = make().fn
    crc, byte = AnyConst(16), AnyConst(8)
    result = Signal(16)
    m.d.comb += result.eq(fn(crc, byte))
    m.d.comb += Assert(result == bitwise_crc16(m, crc, byte))
    if covers:
        m.d.comb += Cover(result == 0)


def _make_register():
    from fewmul.hw.crc import CRC16
    return CRC16()


def _register(m, make, *, covers=False):
    m.submodules.dut = dut = make()
    clear, valid, data = AnySeq(1), AnySeq(1), AnySeq(8)
    m.d.comb += [dut.clear.eq(clear), dut.valid.eq(valid), dut.data.eq(data)]
    started = Signal()
    prev_value, prev_data = Signal(16), Signal(8)
    prev_clear, prev_valid = Signal(), Signal()
    m.d.sync += [started.eq(1), prev_value.eq(dut.value), prev_data.eq(data),
                 prev_clear.eq(clear), prev_valid.eq(valid)]
    m.d.comb += Assert(dut.next_value == bitwise_crc16(m, dut.value, data))
    with m.If(started):
        with m.If(prev_clear):
            m.d.comb += Assert(dut.value == INIT)
        with m.Elif(prev_valid):
            m.d.comb += Assert(dut.value == bitwise_crc16(m, prev_value, prev_data))
        with m.Else():
            m.d.comb += Assert(dut.value == prev_value)
    if covers:
        m.d.comb += Cover(started & prev_valid & ~prev_clear & (dut.value == 0))


def proofs():
    return [
        Proof(name="crc.byte_update", block="crc",
              prop="crc16_next(crc, byte) = bitwise CRC-16/CCITT-FALSE, all 2^24 inputs",
              build=partial(Harness, _byte_update, _Function), mode="prove", depth=1),
        Proof(name="crc.register", block="crc",
              prop="value' = clear ? 0xFFFF : valid ? crc(value, data) : value",
              build=partial(Harness, _register, _make_register), mode="prove", depth=2),
        Proof(name="crc.corners", block="crc", prop="reachable: a zero residue (a good frame)",
              build=partial(Harness, partial(_register, covers=True), _make_register),
              mode="cover", depth=4),
    ]


def mutants():
    byte_update, register = proofs()[:2]

    def wrong_poly():
        fn = _Function()
        inner = fn.fn
        fn.fn = lambda crc, byte: inner(crc, byte) ^ Mux(crc[15] ^ byte[7], 0x0001, 0)
        return fn

    return [
        mutated(byte_update, _byte_update, wrong_poly, "polynomial_bit0"),
        mutated(register, _register, _make_register, "clear_ignored",
                inputs={"clear": lambda c: 0}),
        mutated(register, _register, _make_register, "data_bit_flipped",
                inputs={"data": lambda d: d ^ 0x80}),
    ]
