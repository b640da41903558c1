# amaranth: UnusedElaboratable=no
"""CRC-16/CCITT-FALSE of the frames (``fewmul.protocol.FRAME_CRC``, ``amaranth.lib.crc``): the
software ``compute()`` against the catalogue's check value, ``binascii`` and the bitwise
definition; the hardware processor the link uses against ``compute()`` (Amaranth simulator).
The processor is proven against the bitwise definition in ``sim/proofs/crc.py``."""

import binascii
import random

import pytest
from amaranth.sim import Simulator
from hypothesis import given
from hypothesis import strategies as st

from fewmul.protocol import CRC_RESIDUE, FRAME_CRC, crc16
from fewmul.sim.proofs.crc import INIT, bitwise_update


def test_check_value():
    assert crc16(b"123456789") == 0x29B1


def test_catalog_parameters():
    algorithm = FRAME_CRC.algorithm
    assert (algorithm.crc_width, algorithm.polynomial, algorithm.initial_crc,
            algorithm.reflect_input, algorithm.reflect_output, algorithm.xor_output) == (
        16, 0x1021, 0xFFFF, False, False, 0)
    assert FRAME_CRC.data_width == 8 and CRC_RESIDUE == 0


@given(st.binary(max_size=64))
def test_matches_binascii_and_bitwise(data):
    value = INIT
    for byte in data:
        value = bitwise_update(value, byte)
    assert crc16(data) == binascii.crc_hqx(data, INIT) == value


@given(st.binary(max_size=64))
def test_residue_of_a_good_frame_is_zero(data):
    assert crc16(data + crc16(data).to_bytes(2, "big")) == CRC_RESIDUE


@pytest.mark.parametrize("seed", [1, 2])
def test_processor_matches_compute(seed):
    rng = random.Random(seed)
    messages = [bytes(rng.randrange(256) for _ in range(rng.randrange(0, 12)))
                for _ in range(30)] + [b"123456789"]
    dut = FRAME_CRC.create()
    results = []

    async def testbench(ctx):
        for message in messages:
            ctx.set(dut.start, 1)                   # start alone: back to 0xFFFF
            await ctx.tick()
            ctx.set(dut.start, 0)
            for byte in message:
                ctx.set(dut.valid, 1)
                ctx.set(dut.data, byte)
                await ctx.tick()
            ctx.set(dut.valid, 0)
            results.append((ctx.get(dut.crc), ctx.get(dut.match_detected)))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()
    assert results == [(crc16(m), crc16(m) == 0) for m in messages]
