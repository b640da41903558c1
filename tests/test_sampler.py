# amaranth: UnusedElaboratable=no
"""Weight sampler: parameters, and RTL against ``golden.sampler`` on both simulators."""

import pytest

from fewmul.config import Config
from fewmul.hw.sampler import Sampler
from fewmul.sim.runner import run_testbench

from .conftest import SIMULATORS


def test_rejects_bad_parameters():
    with pytest.raises(ValueError) as info:
        Sampler({"weights": "binary"})
    assert str(info.value) == "cfg must be a fewmul.config.Config, not {'weights': 'binary'}"


def test_signature():
    dut = Sampler(Config(weight_bits=12, rand_bits=6))
    assert dut.latency == 0
    assert set(dut.signature.members) == {"weight", "rand", "deterministic", "nonzero",
                                          "negative"}


# Every stochastic case also drives ``deterministic`` high on 20 % of its transactions.
CONFIGS = [
    dict(weights="binary"),
    dict(weights="ternary"),
    dict(weights="ternary", weight_bits=6, rand_bits=8, lr_shift=11),   # Wf < B: pad the weight
    dict(weights="binary", weight_bits=6, rand_bits=8, lr_shift=11, sampling="deterministic"),
    dict(weights="ternary", weight_bits=9, rand_bits=8, lr_shift=8,     # Wf == B
         sampling="deterministic"),
]


@pytest.mark.sim
@pytest.mark.parametrize("simulator", SIMULATORS)
@pytest.mark.parametrize("case", range(len(CONFIGS)))
def test_sampler_rtl_matches_golden(simulator, case, build_dir, verilator_fast_build):
    cfg = Config(**CONFIGS[case])
    params = dict(cfg=cfg.as_dict(), seed=case * 11 + 5, transactions=5000)
    result = run_testbench(Sampler(cfg), toplevel="sampler", test_module="fewmul.sim.tb_sampler",
                           simulator=simulator, build_dir=build_dir, params=params)
    assert result.tests == 2 and result.failed == 0
