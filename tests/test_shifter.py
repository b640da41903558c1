# amaranth: UnusedElaboratable=no
"""Barrel shifter: golden model against exact integer math, RTL against the golden model."""

import numpy as np
import pytest
from amaranth.hdl import Shape
from hypothesis import given
from hypothesis import strategies as st

from fewmul.golden.shifter import round_up, shift_right
from fewmul.hw.shifter import Shifter
from fewmul.sim.runner import run_testbench

from .conftest import SIMULATORS


@given(st.integers(-(2**20), 2**20 - 1), st.integers(0, 24), st.integers(0, 10))
def test_golden_matches_exact_division(value, shift, frac_bits):
    whole, fraction = shift_right(value, shift, frac_bits)
    assert whole == value // 2**shift                                  # floor division
    rest = value - whole * 2**shift                                    # in [0, 2^shift)
    assert fraction == (rest * 2**frac_bits) // 2**shift


def test_golden_clamps_shift():
    assert shift_right(-128, 9, 0, max_shift=5)[0] == -128 >> 5


def test_stochastic_rounding_is_unbiased():
    rng = np.random.default_rng(1)
    value, shift, bits = 37, 4, 8                                      # 37 / 16 = 2.3125
    whole, fraction = shift_right(np.full(200_000, value), shift, bits)
    rounded = whole + round_up(fraction, rng.integers(0, 2**bits, 200_000), bits, "stochastic")
    assert abs(rounded.mean() - value / 2**shift) < 0.01


@pytest.mark.parametrize("kwargs, message", [
    (dict(width=0, max_shift=3), "width must be an integer in [1, 64], not 0"),
    (dict(width=8, max_shift=-1), "max_shift must be a non-negative integer, not -1"),
    (dict(width=8, max_shift=3, frac_bits=1.5),
     "frac_bits must be a non-negative integer, not 1.5"),
])
def test_rejects_bad_parameters(kwargs, message):
    with pytest.raises(ValueError) as info:
        Shifter(**kwargs)
    assert str(info.value) == message


def test_signature():
    dut = Shifter(width=12, max_shift=5, frac_bits=4)
    assert dut.latency == 0
    assert (dut.width, dut.max_shift, dut.frac_bits) == (12, 5, 4)
    ports = {name: (Shape.cast(m.shape).width, Shape.cast(m.shape).signed)
             for name, m in dut.signature.members.items()}
    assert ports == {"value": (12, True), "shift": (3, False), "whole": (12, True),
                     "fraction": (4, False)}


@pytest.mark.sim
@pytest.mark.parametrize("simulator", SIMULATORS)
@pytest.mark.parametrize("width, max_shift, frac_bits", [(16, 7, 0), (12, 5, 8), (24, 19, 8)])
def test_rtl_matches_golden(simulator, width, max_shift, frac_bits, build_dir):
    params = dict(width=width, max_shift=max_shift, frac_bits=frac_bits, seed=width * 131 + 7,
                  transactions=3000)
    result = run_testbench(Shifter(width=width, max_shift=max_shift, frac_bits=frac_bits),
                           toplevel="shifter", test_module="fewmul.sim.tb_shifter",
                           simulator=simulator, build_dir=build_dir, params=params)
    assert result.tests == 2 and result.failed == 0
