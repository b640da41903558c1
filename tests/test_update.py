# amaranth: UnusedElaboratable=no
"""Weight update: parameters, and RTL against ``golden.update`` on both simulators."""

import pytest
from amaranth.hdl import unsigned
from amaranth.lib.wiring import In

from fewmul.config import Config
from fewmul.hw.update import (
    BiasUpdate,
    UpdateRound,
    UpdateShift,
    UpdateStep,
    WeightUpdate,
    step_width,
)
from fewmul.sim.runner import run_testbench

from .conftest import SIMULATORS


@pytest.mark.parametrize("component", [UpdateStep, WeightUpdate, UpdateShift, UpdateRound])
def test_rejects_bad_parameters(component):
    with pytest.raises(ValueError) as info:
        component(8)
    assert str(info.value) == "cfg must be a fewmul.config.Config, not 8"


def test_step_width():
    cfg = Config()                                   # update_base_shift = 12 + 6 - 15 = 3
    assert step_width(cfg) == 14
    assert UpdateStep(cfg).latency == 0 and WeightUpdate(cfg).latency == 0
    assert UpdateShift(cfg).latency == 0 and UpdateRound(cfg).latency == 0
    assert len(UpdateRound(cfg).step) == 14 and len(UpdateShift(cfg).whole) == cfg.err_bits + 1
    assert len(UpdateShift(cfg).carry) == 1 and len(UpdateRound(cfg).carry) == 1


@pytest.mark.parametrize("lr_range, width", [(0, 0), (1, 1), (3, 2), (4, 3)])
def test_lr_offset_port_covers_lr_range(lr_range, width):
    cfg = Config(lr_range=lr_range)
    for dut in (UpdateStep(cfg), WeightUpdate(cfg), UpdateShift(cfg)):
        assert dut.lr_offset.shape() == unsigned(width)
        assert dut.signature.members["lr_offset"].flow == In


#: every case drives lr_offset over 0 .. lr_range (the third: none, a 0-bit port)
CONFIGS = [
    dict(),
    dict(update_rounding="nearest", weight_bits=6, lr_shift=0, err_frac=8, err_bits=10,
         lr_range=6),
    dict(lr_shift=3, rand_bits=3, shift_bits=4, lr_range=0),  # base shift 0: steps saturate
    # the unbiased fraction (the guard bit as a carry-in), both roundings
    dict(update_fraction="round", weight_bits=8, lr_shift=2),
    dict(update_fraction="round", update_rounding="nearest", rand_bits=2, shift_bits=2,
         lr_range=1),
]


@pytest.mark.sim
@pytest.mark.parametrize("simulator", SIMULATORS)
@pytest.mark.parametrize("case", range(len(CONFIGS)))
def test_update_rtl_matches_golden(simulator, case, build_dir, verilator_fast_build):
    cfg = Config(**CONFIGS[case])
    params = dict(cfg=cfg.as_dict(), seed=case * 17 + 2, transactions=6000)
    result = run_testbench(WeightUpdate(cfg), toplevel="update",
                           test_module="fewmul.sim.tb_update", simulator=simulator,
                           build_dir=build_dir, params=params)
    assert result.tests == 2 and result.failed == 0


@pytest.mark.sim
@pytest.mark.parametrize("simulator", SIMULATORS)
@pytest.mark.parametrize("registered", [False, True])
@pytest.mark.parametrize("case", [0, 1, 3])
def test_bias_update_rtl_matches_golden(simulator, case, registered, build_dir,
                                        verilator_fast_build):
    """Both forms of BiasUpdate (PostBackward's combinational one, PostForward's registered
    one with the rounding as the adder's carry-in) against update_bias, one a clock."""
    cfg = Config(**CONFIGS[case])
    dut = BiasUpdate(cfg, registered=registered)
    params = dict(cfg=cfg.as_dict(), seed=case * 31 + 5, transactions=3000, latency=dut.latency)
    result = run_testbench(dut, toplevel="bias_update", test_module="fewmul.sim.tb_bias_update",
                           simulator=simulator, build_dir=build_dir, params=params)
    assert result.tests == 1 and result.failed == 0
