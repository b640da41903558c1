# amaranth: UnusedElaboratable=no
"""xorshift32 generator: parameters, and RTL against the golden stream on both simulators."""

import pytest

from fewmul.hw.rng import Xorshift32
from fewmul.sim.runner import run_testbench

from .conftest import SIMULATORS


@pytest.mark.parametrize("bits, message", [
    (0, "bits must be an integer in [1, 32], not 0"),
    (33, "bits must be an integer in [1, 32], not 33"),
    (True, "bits must be an integer in [1, 32], not True"),
])
def test_rejects_bad_parameters(bits, message):
    with pytest.raises(ValueError) as info:
        Xorshift32(bits=bits)
    assert str(info.value) == message


def test_signature():
    dut = Xorshift32(bits=8)
    assert dut.latency == 0 and dut.throughput == 1 and dut.bits == 8
    assert set(dut.signature.members) == {"load", "seed", "advance", "draw", "state"}


@pytest.mark.sim
@pytest.mark.parametrize("simulator", SIMULATORS)
@pytest.mark.parametrize("bits", [8, 1])
def test_rng_rtl_matches_golden(simulator, bits, build_dir, verilator_fast_build):
    params = dict(bits=bits, seed=bits * 7 + 3, transactions=8000)
    result = run_testbench(Xorshift32(bits=bits), toplevel="rng", test_module="fewmul.sim.tb_rng",
                           simulator=simulator, build_dir=build_dir, params=params)
    assert result.tests == 2 and result.failed == 0
