"""``fewmul.training``: options, the schedule's learning-rate range, and the rtl backend through
the library (explicit settings, no module state)."""

import pytest

from fewmul.config import Config
from fewmul.training import TrainingMismatch, TrainOptions, schedule_lr_range, train


@pytest.mark.parametrize("changes, message", [
    (dict(epochs=0), "epochs must be an integer >= 1, not 0"),
    (dict(epochs=2.0), "epochs must be an integer >= 1, not 2.0"),
    (dict(lr_decay=-1), "lr_decay must be an integer >= 0, not -1"),
    (dict(samples=0), "samples must be an integer >= 1, not 0"),
    (dict(arith="double"), "arith must be one of fixed, float; not 'double'"),
    (dict(init_range=-0.5), "init_range must be positive, not -0.5"),
    (dict(epochs=5, settle_epochs=6), "settle_epochs must be at most epochs (5), not 6"),
    (dict(settle_shift=-1), "settle_shift must be an integer >= 0, not -1"),
    (dict(arith="float", settle_epochs=2),
     "the settling phase trains the fixed-point datapath with deterministic signs: use "
     "--arith fixed (or --settle-epochs 0)"),
])
def test_options_reject_bad_values(changes, message):
    with pytest.raises(ValueError) as info:
        TrainOptions(**changes)
    assert str(info.value) == message


@pytest.mark.parametrize("epochs, lr_decay, lr_range", [(60, 15, 3), (80, 15, 5), (5, 1, 4),
                                                        (10, 0, 3), (1, 1, 3)])
def test_schedule_sizes_the_lr_range(epochs, lr_decay, lr_range):
    options = TrainOptions(epochs=epochs, lr_decay=lr_decay)
    assert schedule_lr_range(5, options) == lr_range
    cfg = Config(lr_shift=5, lr_range=lr_range)
    assert all(shift in cfg.lr_shifts for shift in options.lr_shifts(cfg))


def test_settling_phase_is_the_last_epochs_with_deterministic_signs():
    # docs/datapath.md section 9: the last settle_epochs epochs at settle_shift more shift,
    # which the hardware's run-time range must hold
    options = TrainOptions(epochs=60, lr_decay=15, settle_epochs=10, settle_shift=2)
    assert schedule_lr_range(5, options) == 5
    cfg = Config(lr_shift=5, lr_range=5)
    assert options.lr_shifts(cfg)[48:52] == [8, 8, 10, 10]
    assert [options.settling(k) for k in (0, 49, 50, 59)] == [False, False, True, True]
    small = dict(dataset="iris", epochs=3, lr_decay=0)
    cfg = Config(layers=(4, 8, 3))
    settled = train(cfg, TrainOptions(**small, settle_epochs=1))
    plain = train(cfg, TrainOptions(**small))
    assert [e["settling"] for e in settled["epochs"]] == [False, False, True]
    assert settled["epochs"][:2] == plain["epochs"][:2]
    assert settled["config"]["settle_epochs"] == 1


def test_golden_backend_takes_no_settings():
    with pytest.raises(ValueError, match="the golden backend takes no backend settings"):
        train(Config(layers=(4, 8, 3)), TrainOptions(dataset="iris", epochs=1),
              settings=object())


@pytest.mark.sim
@pytest.mark.slow
def test_rtl_backend_trains_two_epochs_bit_exact(tmp_path):
    """8 digits samples per epoch on a 64-16-10 MLP (4 x 4 array, Verilator): two learning
    rates (LR between the epochs), every weight compared every 4 samples; the model is built
    once for both epochs; the second is a settling epoch. Settings go to the simulation as files
    and FEWMUL_PARAMS. About a minute, most of it the Verilator compile."""
    from fewmul.train_rtl import RtlSettings, fast_build
    cfg = Config(layers=(64, 16, 10), array_rows=4, array_cols=4, lr_shift=5)
    settings = RtlSettings(simulator="verilator", check_every=4, quiet=True,
                           build_dir=str(tmp_path / "rtl"))
    # the second epoch settles: LR with its deterministic-sign flag, golden with the same signs
    options = TrainOptions(dataset="digits", epochs=2, lr_decay=1, samples=8, settle_epochs=1)
    with fast_build():
        result = train(cfg, options, backend="rtl", settings=settings)
    assert result["bit_exact"] is True and result["samples"] == 16
    assert result["checks"] == 4 and result["mismatches"] == []
    assert [e["lr_shift"] for e in result["epochs"]] == [5, 6]
    assert result["cycles_per_sample"] > 0
    golden = train(cfg, options)
    assert [e["test_accuracy"] for e in result["epochs"]] == \
        [e["test_accuracy"] for e in golden["epochs"]]
    assert issubclass(TrainingMismatch, AssertionError)
