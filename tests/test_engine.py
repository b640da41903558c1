# amaranth: UnusedElaboratable=no
"""Training engine: parameters, plan, and RTL training bit-exact with golden ``train_step``."""

import json
import math

import pytest
from amaranth.hdl import Fragment

from fewmul.config import Config
from fewmul.golden.order import index_bits, permute
from fewmul.hw.engine import Engine, EngineSystem, EngineUartSystem, counter_names
from fewmul.hw.engine_plan import EnginePlan
from fewmul.hw.sequencer import step_cycles
from fewmul.protocol import memory_map
from fewmul.sim.runner import run_testbench, volume

from .conftest import SIMULATORS


def test_rejects_bad_parameters():
    with pytest.raises(ValueError) as info:
        Engine(Config(array_rows=3))
    assert str(info.value) == "the engine needs a power-of-two array_rows, not 3"
    with pytest.raises(ValueError) as info:
        EnginePlan(Config(array_cols=6))
    assert str(info.value) == "the engine needs a power-of-two array_cols, not 6"
    with pytest.raises(ValueError) as info:
        EnginePlan(Config(act_bits=9))
    assert str(info.value) == "the engine takes one byte per input: act_bits must be <= 8, not 9"
    with pytest.raises(ValueError) as info:
        EngineSystem(Config(layers=(784, 8, 10)), max_payload=256)
    assert str(info.value) == ("max_payload 256 cannot carry a 784-input sample: a DATA frame "
                               "of one record needs 789 payload bytes")
    with pytest.raises(ValueError) as info:
        Engine(Config(layers=(4096, 16, 10), array_rows=16, array_cols=16))
    assert str(info.value) == ("layer 0's rows of 4096 inputs do not fit a region of 65,535 "
                               "words 16 at a time (one row tile is 65,536 words): at most 4,095 "
                               "inputs")
    with pytest.raises(ValueError) as info:
        Engine(Config(layers=(16, 8, 4), array_rows=4, array_cols=4), region_words=0)
    assert str(info.value) == "region_words must be an integer in [1, 65535], not 0"
    with pytest.raises(ValueError) as info:
        EnginePlan("cfg")
    assert str(info.value) == "cfg must be a fewmul.config.Config, not 'cfg'"


def test_plan_tiles_and_bases():
    plan = EnginePlan(Config(layers=(13, 9, 5, 3), array_rows=4, array_cols=4))
    assert plan.tc == (4, 3, 2) and plan.tr == (3, 2, 1) and plan.lanes == 4
    assert plan.tile_counts == (12, 6, 2) and plan.tile_base == (0, 12, 18)
    assert plan.tiles == 20
    assert plan.vec_words == (4, 3, 2, 1) and plan.vec_base == (0, 4, 7, 9)
    assert plan.vec_depth == 10
    digits = EnginePlan(Config())
    assert digits.tiles == 64 + 16
    assert digits.acc_bits >= Config().acc_bits(64)
    with pytest.raises(ValueError) as info:
        Engine(Config(array_rows=4, array_cols=8))
    assert str(info.value) == ("the streaming engine needs a square array, not 4 x 8 "
                               "(array_rows x array_cols)")


def test_ports_follow_the_link():
    cfg = Config(layers=(16, 8, 4), array_rows=4, array_cols=4)
    engine = Engine(cfg)
    assert engine.depths == tuple(r.depth for r in memory_map(cfg)) == (128, 8, 32, 4)
    # 784-256-10: layer 0's 200,704 weights in four regions of 80, 80, 80 and 16 rows
    assert Engine(Config(layers=(784, 256, 10))).depths == (62720,) * 3 + (12544, 256, 2560, 10)
    assert list(engine.signature.members) == ["engine", "mem", "busy"]
    system = EngineSystem(cfg)
    assert list(system.signature.members) == ["i", "o", "busy"]
    assert system.link.depths == engine.depths
    assert counter_names(cfg) == ("steps", "predictions", "cycles", "clips0", "clips1")
    board = EngineUartSystem(cfg, divisor=10)
    assert list(board.signature.members) == ["rx", "tx", "busy"]
    # Both systems build their parts in __init__: elaborate them, which checks that they
    # elaborate and marks those parts used (else Amaranth warns when they are collected).
    for top in (system, board):
        Fragment.get(top, None)


CASES = {
    # name: (config, data, samples, check_every)
    "16-8-4-k4": (dict(layers=(16, 8, 4), array_rows=4, array_cols=4), "random", 12, 4),
    # padded tiles in every layer, ternary, the unbiased update fraction (the guard bit in the
    # tile pipeline and the bias path), a run-time rate (LR)
    "13-9-5-3-k4-ternary": (dict(layers=(13, 9, 5, 3), array_rows=4, array_cols=4,
                                 weights="ternary", activation="htanh",
                                 update_fraction="round"), "random", 8, 4),
    # 8-bit weights starting at the rails, a large learning rate: many saturating updates, so
    # the per-layer clip counters are compared with golden on non-zero counts
    "16-8-4-k2-w8-clips": (dict(layers=(16, 8, 4), array_rows=2, array_cols=2, weight_bits=8,
                                lr_shift=1), "random", 12, 4),
}
#: Further testbench parameters per case: a run-time learning rate (the LR command; the
#: hardware's largest for the ternary case), the step from which the run settles (LR's
#: deterministic-sign flag, docs/datapath.md section 9) or the initial weight range.
EXTRA = {"16-8-4-k4": dict(settle_from=6),
         "13-9-5-3-k4-ternary": dict(lr_shift=Config().lr_shift + Config().lr_range,
                                     settle_from=4),
         "16-8-4-k2-w8-clips": dict(init_range=1.0)}
#: EngineSystem parameters per case: regions of at most 60 words split layer 0's 117 weights
#: over three regions of 4, 4 and 1 rows (fewmul.protocol.memory_map), as 784-256-10's 200,704
#: split over four of 80, 80, 80 and 16 rows; the host loads and reads them by PING's depths.
SYSTEM = {"13-9-5-3-k4-ternary": dict(region_words=60)}


def _run(case, simulator, build_dir, config, data, samples, check_every, available=None,
         data_capacity=0, testcase="train_bit_exact", system=None, **extra):
    cfg = Config(**config)
    samples = min(max(1, math.ceil(samples * volume())), available or math.inf)
    result_json = build_dir / "result.json"
    result_json.unlink(missing_ok=True)
    params = dict(cfg=cfg.as_dict(), data=data, samples=samples, check_every=check_every,
                  seed=sum(map(ord, case)), predict=4, result_json=str(result_json),
                  data_capacity=data_capacity, **extra)
    result = run_testbench(EngineSystem(cfg, data_capacity=data_capacity, **(system or {})),
                           toplevel="engine_system", test_module="fewmul.sim.tb_engine",
                           simulator=simulator, build_dir=build_dir, params=params,
                           testcase=testcase)
    assert result.tests == 1 and result.failed == 0
    report = json.loads(result_json.read_text())
    assert report["samples"] == samples and report["mismatches"] == []
    return report


@pytest.mark.sim
@pytest.mark.parametrize("simulator", SIMULATORS)
@pytest.mark.parametrize("case", list(CASES))
def test_engine_trains_bit_exact(simulator, case, build_dir, verilator_fast_build):
    report = _run(case, simulator, build_dir, *CASES[case], system=SYSTEM.get(case),
                  **EXTRA.get(case, {}))
    if case.endswith("clips"):
        assert all(count > 0 for count in report["clips"]), report["clips"]


#: digits samples per simulator, and every how many the whole network is read back: one full
#: epoch (1437 training samples) on Verilator, read back 3 times; Icarus runs this engine
#: hundreds of times slower, and a read-back of the 18,944 words costs it more than a sample,
#: so CI trains 4 there and reads back after LOAD and at the end (the 50-sample run is
#: ``fewmul train --backend rtl --simulator icarus --epochs 1 --samples 50``, docs/engine.md).
DIGITS_TRAIN = 1437                                     # digits training samples (one epoch)
DIGITS_SAMPLES = {"verilator": (DIGITS_TRAIN, DIGITS_TRAIN // 3), "icarus": (4, 4)}


#: The data set on chip: (config, samples uploaded, capacity). 8-bit weights from the rails
#: and a large rate make every layer's clip count non-zero: the EPOCH answer's LE32 fields
#: of the second and third layer are checked on real counts (they once came out 2x and 4x).
EPOCH_CASES = {
    "16-8-4-k4": (dict(layers=(16, 8, 4), array_rows=4, array_cols=4, weight_bits=8,
                       lr_shift=1), 37, 40),
    "13-9-5-3-k2-ternary": (dict(layers=(13, 9, 5, 3), array_rows=2, array_cols=2,
                                 weights="ternary", update_fraction="round", weight_bits=8,
                                 lr_shift=1), 21, 21),
    # 8 words a slot and 260 + 15 slots (the data set, a frame's records): 2,200 words,
    # deeper than DataStore.SLICE_DEPTH, so the words are held one bit a memory
    "16-8-4-k2-sliced": (dict(layers=(16, 8, 4), array_rows=2, array_cols=2, weight_bits=8,
                              lr_shift=1), 250, 260),
}


@pytest.mark.sim
@pytest.mark.parametrize("simulator", SIMULATORS)
@pytest.mark.parametrize("case", list(EPOCH_CASES))
def test_engine_trains_epochs_from_on_chip_data(simulator, case, build_dir,
                                                 verilator_fast_build):
    config, samples, capacity = EPOCH_CASES[case]
    report = _run(case, simulator, build_dir, config, "random", samples, 0,
                  data_capacity=capacity, testcase="epoch_bit_exact", init_range=1.0)
    assert report["engine_cycles"] > 0
    assert all(count > 0 for count in report["clips"]), report["clips"]
    for epoch in report["epochs"]:
        assert epoch["cycles"] == epoch_cycles(Config(**config), epoch), epoch


def epoch_cycles(cfg, epoch):
    """An EPOCH's cycles as docs/engine.md states them: ``step_cycles + 2`` a sample (the next
    index and the label read) and the first index (the order unit's set-up cycle and 5 cycles
    for each value of ``f`` tried until one is below ``size``)."""
    bits = index_bits(epoch["size"])
    tried = next(i for i in range(1 << bits) if permute(i, epoch["key"], bits) < epoch["size"])
    return epoch["count"] * (step_cycles(cfg) + 2) + 1 + 5 * (tried + 1)


@pytest.mark.sim
@pytest.mark.slow
@pytest.mark.parametrize("simulator", SIMULATORS)
def test_engine_trains_digits_bit_exact(simulator, build_dir):
    """digits on the default 64-256-10 MLP and 8x8 tile in the epoch's sample order, every
    answer compared, every weight read back and compared (``DIGITS_SAMPLES``) and at the end.

    The Verilator model is built optimised (no ``verilator_fast_build``): the epoch is about 5 M
    cycles, bound by the model, not by Python.
    """
    samples, check_every = DIGITS_SAMPLES[simulator]
    report = _run("digits", simulator, build_dir, {}, "digits", samples,
                  check_every, available=DIGITS_TRAIN)
    assert report["engine_cycles_per_sample"] > 0


@pytest.mark.sim
@pytest.mark.parametrize("simulator", SIMULATORS)
def test_engine_trains_mnist_bit_exact(simulator, build_dir, verilator_fast_build):
    """28 x 28 MNIST (784 inputs): 392 column groups of the first layer, and a link whose
    payload grows to one DATA record of 784 pixels (789 bytes; TRAIN frames carry 785). A
    narrow hidden layer and tile keep the read-back (1,588 weights) short for Icarus (784-8-10
    on 8 x 8 tiles, 6,352 words, took it about 4 minutes); the 784-256-10 run is
    ``fewmul train --backend rtl --dataset mnist --hidden 256 --samples 300`` (docs/engine.md)."""
    cfg = dict(layers=(784, 2, 10), array_rows=2, array_cols=2)
    report = _run("mnist", simulator, build_dir, cfg, "mnist", 3, 3)
    assert report["engine_cycles_per_sample"] > 0
