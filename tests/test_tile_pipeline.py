# amaranth: UnusedElaboratable=no
"""Streaming tile pipeline: parameters, latencies, golden twin, RTL against the golden twin."""

import numpy as np
import pytest

from fewmul.config import Config
from fewmul.golden.array import backward_partial, forward_partial, update_tile
from fewmul.golden.tile import tile_pass
from fewmul.hw.tile_pe import TilePE
from fewmul.hw.tile_pipeline import TileOp, TilePipeline
from fewmul.sim.runner import run_testbench
from fewmul.sim.tb_tile_pipeline import TilePipelineTop

from .conftest import SIMULATORS


def test_rejects_bad_parameters():
    with pytest.raises(ValueError) as info:
        TilePipeline(Config(), tag_bits=0)
    assert str(info.value) == "tag_bits must be a positive integer, not 0"
    with pytest.raises(ValueError) as info:
        TilePipeline("4x4")
    assert str(info.value) == "cfg must be a fewmul.config.Config, not '4x4'"


def test_latencies():
    dut = TilePipeline(Config(array_rows=4, array_cols=16), tag_bits=5)
    assert (dut.tree_depth, dut.sum_latency, dut.update_latency) == (4, 6, 5)
    assert dut.clips_latency == 5 + 6                        # popcount over 64 flags
    assert (TilePE.product_latency, TilePE.update_latency, dut.throughput) == (1, 4, 1)
    assert [op.name for op in TileOp] == ["FORWARD", "TRAIN"]
    assert dut.clips.payload.count.shape().width == 7        # 0 .. 64


def test_golden_train_pass_is_backward_and_update_of_the_same_tile():
    cfg = Config(array_rows=3, array_cols=5, weights="ternary")
    rng = np.random.default_rng(7)
    cmd = {"op": "TRAIN", "weights": rng.integers(-2**15, 2**15, 15),
           "x": rng.integers(-128, 128, 5), "u": rng.integers(0, 256, 5),
           "q": rng.integers(0, 256, 5), "u2": rng.integers(0, 256, 5),
           "delta": rng.integers(-2**15, 2**15, 3), "v": rng.integers(0, 256, 3),
           "v2": rng.integers(0, 256, 3), "lr_offset": 2}
    out = tile_pass(cmd, cfg)
    w = cmd["weights"].reshape(3, 5)
    assert (out["acc"] == forward_partial(w, cmd["x"], cmd["u"], cmd["v"], cfg)).all()
    assert (out["grad"] == backward_partial(w, cmd["delta"], cmd["u"], cmd["v"], cfg)).all()
    want = update_tile(w, cmd["delta"], cmd["x"], cmd["q"], cmd["u2"], cmd["v2"], cfg, 2)
    assert (out["weights"] == want).all()
    assert "weights" not in tile_pass({**cmd, "op": "FORWARD"}, cfg)
    with pytest.raises(ValueError) as info:
        tile_pass({**cmd, "op": "LOAD"}, cfg)
    assert str(info.value) == "unknown tile operation 'LOAD'; choose one of ('FORWARD', 'TRAIN')"


CASES = {
    # name: (config, idle, commands)
    "4x4-binary": (dict(array_rows=4, array_cols=4), 0.0, 600),
    "2x8-ternary-round-gaps": (dict(array_rows=2, array_cols=8, weights="ternary",
                                    update_fraction="round"), 0.3, 600),
    "3x5-narrow": (dict(array_rows=3, array_cols=5, weights="ternary", weight_bits=6,
                        err_bits=10, err_frac=8, lr_shift=0, rand_bits=4, shift_bits=2,
                        update_fraction="round", quantizer="deterministic",
                        update_rounding="nearest"), 0.1, 600),
}


@pytest.mark.sim
@pytest.mark.parametrize("simulator", SIMULATORS)
@pytest.mark.parametrize("case", list(CASES))
def test_tile_pipeline_rtl_matches_golden(simulator, case, build_dir, verilator_fast_build):
    config, idle, commands = CASES[case]
    cfg = Config(**config)
    params = dict(cfg=cfg.as_dict(), seed=sum(map(ord, case)), commands=commands, idle=idle,
                  tag_bits=7)
    result = run_testbench(TilePipelineTop(cfg, tag_bits=7), toplevel="tile_pipeline",
                           test_module="fewmul.sim.tb_tile_pipeline", simulator=simulator,
                           build_dir=build_dir, params=params)
    assert result.tests == 1 and result.failed == 0
