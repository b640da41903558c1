# amaranth: UnusedElaboratable=no
"""PE array: parameters, golden twin properties, and RTL against the golden tile model."""

import numpy as np
import pytest
from amaranth.hdl import unsigned

from fewmul.config import Config
from fewmul.golden.array import ArrayModel, backward_partial, forward_partial, tile_signs
from fewmul.hw.array import Op, PEArray, acc_width, grad_width, tree_depth
from fewmul.hw.pe import PE
from fewmul.sim.runner import run_testbench

from .conftest import SIMULATORS


def test_rejects_bad_parameters():
    with pytest.raises(ValueError) as info:
        PEArray("8x8")
    assert str(info.value) == "cfg must be a fewmul.config.Config, not '8x8'"
    with pytest.raises(ValueError) as info:
        PE(None)
    assert str(info.value) == "cfg must be a fewmul.config.Config, not None"


def test_properties():
    dut = PEArray(Config(array_rows=4, array_cols=8))
    assert (dut.rows, dut.cols, dut.tree_depth) == (4, 8, 3)
    assert dut.latency == 3 + 3 + 1 and dut.read_latency == 3 and dut.update_cycles == 4 + 4
    assert dut.throughput == 1 and PE(dut.cfg).latency == 1
    assert [tree_depth(n) for n in (1, 2, 3, 4, 5, 32)] == [0, 1, 2, 2, 3, 5]
    assert [m for m in dut.signature.members] == ["cmd", "lr_offset", "result", "idle", "clips"]
    assert dut.clips.shape() == unsigned(4)                           # 0 .. 8 columns
    assert dut.lr_offset.shape() == unsigned(2)                       # lr_range 3 by default
    assert PEArray(Config(lr_range=4)).lr_offset.shape() == unsigned(3)
    assert [op.name for op in Op] == ["FORWARD", "BACKWARD", "UPDATE", "LOAD", "READ"]


@pytest.mark.parametrize("rows, cols", [(1, 1), (3, 5), (8, 8), (4, 16)])
def test_partial_sums_fit_their_width(rows, cols):
    """The worst case (every product -x_min or -δ_min) fits acc_width / grad_width."""
    cfg = Config(array_rows=rows, array_cols=cols, weights="binary", sampling="deterministic")
    w = np.full((rows, cols), -1)                                      # every sign -1
    acc = forward_partial(w, np.full(cols, -(1 << cfg.act_frac)), np.zeros(cols),
                          np.zeros(rows), cfg)
    g = backward_partial(w, np.full(rows, -(1 << (cfg.err_bits - 1))), np.zeros(cols),
                         np.zeros(rows), cfg)
    assert acc.max() <= (1 << (acc_width(cfg) - 1)) - 1
    assert g.max() <= (1 << (grad_width(cfg) - 1)) - 1


def test_golden_backward_uses_forward_signs():
    cfg = Config(array_rows=5, array_cols=7, weights="ternary")
    rng = np.random.default_rng(3)
    w = rng.integers(-2**15, 2**15, (5, 7))
    u, v = rng.integers(0, 256, 7), rng.integers(0, 256, 5)
    s = tile_signs(w, u, v, cfg)
    x, d = rng.integers(-128, 128, 7), rng.integers(-2**15, 2**15, 5)
    assert (forward_partial(w, x, u, v, cfg) == s @ x).all()
    assert (backward_partial(w, d, u, v, cfg) == s.T @ d).all()


def test_golden_update_at_lr_offset_is_the_golden_update_at_that_lr_shift():
    from fewmul.golden.array import at_lr_offset, update_tile
    from fewmul.golden.quantizer import quantize
    from fewmul.golden.sampler import pe_random
    from fewmul.golden.update import update_weights

    cfg = Config(array_rows=4, array_cols=5, lr_shift=4, lr_range=3)
    rng = np.random.default_rng(5)
    w = rng.integers(-2**15, 2**15, (4, 5))
    d, x = rng.integers(-2**15, 2**15, 4), rng.integers(-128, 128, 5)
    q, u2, v2 = rng.integers(0, 256, 5), rng.integers(0, 256, 5), rng.integers(0, 256, 4)
    tiles = []
    for k in range(4):
        want = update_weights(w, d, quantize(x, q, cfg), pe_random(u2, v2),
                              cfg.replace(lr_shift=4 + k))
        assert (update_tile(w, d, x, q, u2, v2, cfg, lr_offset=k) == want).all()
        tiles.append(want)
    assert len({t.tobytes() for t in tiles}) == 4                    # every rate differs here
    assert at_lr_offset(cfg, 3).update_max_shift == cfg.update_max_shift
    with pytest.raises(ValueError) as info:
        at_lr_offset(cfg, 4)
    assert str(info.value) == "lr_offset must be an integer in [0, 3] (cfg.lr_range), not 4"


def test_golden_model_read_restores_tile():
    cfg = Config(array_rows=3, array_cols=2)
    model = ArrayModel(cfg)
    tile = np.arange(6).reshape(3, 2)
    for row in tile:
        model.execute({"op": "LOAD", "weights": row})
    rows = [model.execute({"op": "READ"})["weights"] for _ in range(3)]
    assert (np.array(rows) == tile).all() and (model.weights == tile).all()


CASES = {
    # name: (config, idle, backpressure, transactions)
    "8x8-binary": (dict(array_rows=8, array_cols=8), 0.0, 0.0, 1200),
    "4x6-ternary-gaps": (dict(array_rows=4, array_cols=6, weights="ternary"), 0.3, 0.3, 2000),
    "1x1-det": (dict(array_rows=1, array_cols=1, sampling="deterministic",
                     quantizer="deterministic", update_rounding="nearest", lr_range=1),
                0.1, 0.5, 1500),
    "5x3-narrow": (dict(array_rows=5, array_cols=3, weights="ternary", weight_bits=6,
                        err_bits=10, err_frac=8, lr_shift=0, rand_bits=4, shift_bits=2,
                        update_fraction="round"),
                   0.2, 0.2, 2000),
    "16x2-wide": (dict(array_rows=16, array_cols=2, act_bits=4, rand_bits=12, weight_bits=20,
                       lr_shift=9, lr_range=7), 0.0, 0.6, 1000),
}


@pytest.mark.sim
@pytest.mark.parametrize("simulator", SIMULATORS)
@pytest.mark.parametrize("case", list(CASES))
def test_array_rtl_matches_golden(simulator, case, build_dir, verilator_fast_build):
    config, idle, backpressure, transactions = CASES[case]
    cfg = Config(**config)
    dut = PEArray(cfg)
    params = dict(cfg=cfg.as_dict(), seed=sum(map(ord, case)), transactions=transactions,
                  idle=idle, backpressure=backpressure, latency=dut.latency,
                  read_latency=dut.read_latency, update_cycles=dut.update_cycles)
    result = run_testbench(dut, toplevel="pe_array", test_module="fewmul.sim.tb_array",
                           simulator=simulator, build_dir=build_dir, params=params)
    assert result.tests == 4 and result.failed == 0
