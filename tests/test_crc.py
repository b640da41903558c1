# amaranth: UnusedElaboratable=no
"""CRC-16/CCITT-FALSE: golden model against the catalogue and binascii, RTL against golden."""

import binascii

import pytest
from amaranth.sim import Simulator
from hypothesis import given
from hypothesis import strategies as st

from fewmul.golden.crc import CHECK, INIT, crc16, crc16_update
from fewmul.hw.crc import CRC16


def test_check_value():
    assert crc16(b"123456789") == CHECK == 0x29B1


@given(st.binary(max_size=64))
def test_matches_binascii(data):
    assert crc16(data) == binascii.crc_hqx(data, INIT)


@given(st.binary(max_size=64))
def test_residue_of_a_good_frame_is_zero(data):
    crc = crc16(data)
    assert crc16(data + crc.to_bytes(2, "big")) == 0


def test_update_is_one_byte():
    assert crc16_update(INIT, 0x31) == crc16(b"1")


@pytest.mark.parametrize("seed", [1, 2])
def test_rtl_matches_golden(seed):
    import random
    rng = random.Random(seed)
    messages = [bytes(rng.randrange(256) for _ in range(rng.randrange(0, 12)))
                for _ in range(30)] + [b"123456789"]
    dut = CRC16()
    results = []

    async def testbench(ctx):
        for message in messages:
            ctx.set(dut.clear, 1)
            await ctx.tick()
            ctx.set(dut.clear, 0)
            for byte in message:
                ctx.set(dut.valid, 1)
                ctx.set(dut.data, byte)
                assert ctx.get(dut.next_value) == crc16_update(ctx.get(dut.value), byte)
                await ctx.tick()
            ctx.set(dut.valid, 0)
            results.append(ctx.get(dut.value))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()
    assert results == [crc16(m) for m in messages]
