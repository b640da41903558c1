# amaranth: UnusedElaboratable=no
"""Power-of-two quantizer: parameters, and RTL against ``golden.quantizer`` on both simulators."""

import pytest

from fewmul.config import Config
from fewmul.hw.quantizer import Quantizer
from fewmul.sim.runner import run_testbench

from .conftest import SIMULATORS


def test_rejects_bad_parameters():
    with pytest.raises(ValueError) as info:
        Quantizer(None)
    assert str(info.value) == "cfg must be a fewmul.config.Config, not None"


def test_signature():
    dut = Quantizer(Config(shift_bits=2))
    assert dut.latency == 0
    assert set(dut.signature.members) == {"x", "rand", "negative", "shift", "is_zero"}


CONFIGS = [
    dict(),                                                  # e < B: padded fraction
    dict(quantizer="deterministic", shift_bits=2),           # the clamp acts
    dict(act_bits=12, err_frac=11, rand_bits=4, shift_bits=3),   # e > B: truncated, clamped
]


@pytest.mark.sim
@pytest.mark.parametrize("simulator", SIMULATORS)
@pytest.mark.parametrize("case", range(len(CONFIGS)))
def test_quantizer_rtl_matches_golden(simulator, case, build_dir, verilator_fast_build):
    cfg = Config(**CONFIGS[case])
    params = dict(cfg=cfg.as_dict(), seed=case * 13 + 1, transactions=6000)
    result = run_testbench(Quantizer(cfg), toplevel="quantizer",
                           test_module="fewmul.sim.tb_quantizer", simulator=simulator,
                           build_dir=build_dir, params=params)
    assert result.tests == 2 and result.failed == 0
