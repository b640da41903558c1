"""Golden block and layer operations against straightforward references (exact integer math,
probabilities within statistical tolerance)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fewmul.config import Config
from fewmul.golden.fixed import rshr, sat
from fewmul.golden.layer import backward, forward, sample_layer
from fewmul.golden.loss import output_error
from fewmul.golden.quantizer import leading_one, quantize
from fewmul.golden.sampler import pe_random, sample_signs
from fewmul.golden.update import update_bias, update_weights, weight_delta

CFG = Config()


def _rshr(v, s):
    return v if s == 0 else (v + 2 ** (s - 1)) // 2**s


# -- forward / backward: exact integer math ---------------------------------------------------

@st.composite
def _layer_case(draw):
    n = draw(st.integers(1, 12))
    m = draw(st.integers(1, 6))
    signs = draw(st.lists(st.lists(st.sampled_from([-1, 0, 1]), min_size=n, max_size=n),
                          min_size=m, max_size=m))
    x = draw(st.lists(st.integers(-128, 127), min_size=n, max_size=n))
    b = draw(st.lists(st.integers(-2**15, 2**15 - 1), min_size=m, max_size=m))
    return np.array(signs), np.array(x), np.array(b), draw(st.integers(0, 5))


@pytest.mark.parametrize("activation", ["relu", "htanh"])
@given(case=_layer_case(), last=st.booleans())
@settings(max_examples=60, deadline=None)
def test_forward_is_exact_integer_math(activation, case, last):
    cfg = CFG.replace(activation=activation)
    signs, x, b, scale = case
    out = forward(signs, b, x, scale, cfg, last)
    lo = 0 if activation == "relu" else -128
    for i in range(len(b)):
        acc = sum(int(s) * int(v) for s, v in zip(signs[i], x, strict=True))
        z = _rshr(acc, scale) + _rshr(int(b[i]), 8)
        assert out.acc[i] == acc and out.z[i] == z
        if last:
            assert out.y[i] == min(max(z, -512), 511) and out.mask[i] == 1
        else:
            assert out.y[i] == min(max(z, lo), 127) and out.mask[i] == int(lo < z < 128)


@given(case=_layer_case())
@settings(max_examples=60, deadline=None)
def test_backward_is_exact_integer_math(case):
    signs, x, _, scale = case
    rng = np.random.default_rng(len(x))
    delta = rng.integers(-2**15, 2**15, signs.shape[0])
    mask = rng.integers(0, 2, signs.shape[1])
    got = backward(signs, delta, scale, mask, CFG)
    for j in range(signs.shape[1]):
        g = sum(int(signs[i, j]) * int(delta[i]) for i in range(signs.shape[0]))
        want = min(max(_rshr(g, scale), -2**15), 2**15 - 1) if mask[j] else 0
        assert got[j] == want


def test_forward_batch_equals_single():
    rng = np.random.default_rng(3)
    signs = rng.integers(-1, 2, (10, 64))
    b = rng.integers(-2**15, 2**15, 10)
    X = rng.integers(0, 128, (7, 64))
    batch = forward(signs, b, X, 3, CFG, last=False)
    for k in range(7):
        single = forward(signs, b, X[k], 3, CFG, last=False)
        assert (batch.y[k] == single.y).all() and (batch.mask[k] == single.mask).all()


def test_output_error_is_the_squared_hinge_gradient():
    y = np.array([200, -300, 128, 127, -128, -129, 511, -512, 0, 5])
    for label in (0, 2, 3, 9):
        delta = output_error(y, label, CFG)
        for k, v in enumerate(y):
            t = 1 if k == label else -1
            want = 2 * t * max(0.0, 1 - t * v / 128)                        # -dC/dy, real
            assert delta[k] == min(max(round(want * 2**12), -2**15), 2**15 - 1)


# -- saturation -----------------------------------------------------------------------------

@given(st.integers(-2**62, 2**62), st.integers(2, 32))
def test_sat_never_wraps(value, bits):
    got = int(sat(value, bits))
    assert got == min(max(value, -2 ** (bits - 1)), 2 ** (bits - 1) - 1)


def test_update_saturates_instead_of_wrapping():
    cfg = CFG.replace(lr_shift=3)                                      # update_base_shift 0
    quant = quantize(np.array([127, -127, 64]), np.zeros(3, dtype=np.int64), cfg)
    w = np.array([[2**15 - 1, -2**15, 2**15 - 2], [-2**15, 2**15 - 1, -2**15 + 1]])
    delta = np.array([2**15 - 1, 2**15 - 1])
    rho = np.zeros((2, 3), dtype=np.int64)
    step = weight_delta(delta, quant, rho, cfg)
    new = update_weights(w, delta, quant, rho, cfg)
    for i in range(2):
        for j in range(3):
            assert new[i, j] == min(max(int(w[i, j]) + int(step[i, j]), -2**15), 2**15 - 1)
    assert list(new[0]) == [2**15 - 1, -2**15, 2**15 - 1]                 # pinned, not wrapped
    assert (update_bias(np.array([2**15 - 1, -2**15]), np.array([2**15 - 1, -2**15]),
                        np.zeros(2, dtype=np.int64), cfg) == [2**15 - 1, -2**15]).all()


# -- update: exact shift-and-round ----------------------------------------------------------

@given(st.integers(-2**15, 2**15 - 1), st.integers(-128, 127), st.integers(0, 255),
       st.sampled_from(["stochastic", "nearest"]), st.sampled_from(["truncate", "round"]))
@settings(max_examples=300)
def test_weight_delta_is_exact(delta, x, rho, rounding, fraction_mode):
    cfg = CFG.replace(update_rounding=rounding, update_fraction=fraction_mode)
    quant = quantize(np.array([x]), np.array([rho]), cfg)
    got = int(weight_delta(np.array([delta]), quant, np.array([[rho]]), cfg)[0, 0])
    if x == 0:
        assert got == 0
        return
    shift = cfg.update_base_shift + int(quant.shift[0])
    d = -delta if quant.negative[0] else delta
    whole = d // 2**shift                                             # floor
    fraction = ((d - whole * 2**shift) * 2**8) // 2**shift          # top 8 shifted-out bits
    if fraction_mode == "round":                                      # d 2^(8 - shift), half up
        wide = (d * 2**8 * 2 + 2**shift) // 2**(shift + 1)
        whole, fraction = wide // 2**8, wide % 2**8
    up = rho < fraction if rounding == "stochastic" else fraction >= 128
    assert got == whole + up


# -- quantizer --------------------------------------------------------------------------------

def test_leading_one_matches_bit_length():
    values = np.concatenate([np.arange(0, 300), 2 ** np.arange(0, 62), 2 ** np.arange(1, 62) - 1])
    want = [int(v).bit_length() - 1 for v in values]
    assert (leading_one(values) == want).all()


@pytest.mark.parametrize("x", [1, 3, 5, 7, 37, 100, 127, -9, -90])
def test_quantizer_is_unbiased(x):
    n = 40_000
    q = np.random.default_rng(x & 0xFF).integers(0, 256, n)
    quant = quantize(np.full(n, x), q, CFG)
    values = quant.value(CFG.act_frac)
    assert set(np.unique(np.abs(values))) <= {2.0**k for k in range(8)}
    # unbiased up to the 8-bit truncation of the fraction and sampling noise
    assert abs(values.mean() - x) < 0.02 * abs(x) + 4 * values.std() / np.sqrt(n)


def test_quantizer_zero_and_deterministic():
    quant = quantize(np.array([0, 96, 95, 127, -64]), np.zeros(5, dtype=np.int64), CFG,
                     deterministic=True)
    assert list(quant.is_zero) == [True, False, False, False, False]
    assert list(quant.value(7)) == [0.0, 128.0, 64.0, 128.0, -64.0]


# -- weight sampling --------------------------------------------------------------------------

def _draws(shape, seed):
    return np.random.default_rng(seed).integers(0, 256, shape)


@pytest.mark.parametrize("w_real", [-1.0, -0.6, -0.1, 0.0, 0.3, 0.9, 0.999])
def test_binary_sampling_hits_the_hard_sigmoid(w_real):
    n = 40_000
    w = np.full((1, n), int(w_real * 2**15))
    signs = sample_signs(w, _draws((1, n), 1), CFG)
    want = min(max((w_real + 1) / 2, 0), 1)
    assert set(np.unique(signs)) <= {-1, 1}
    assert abs((signs == 1).mean() - want) < 1 / 256 + 4 * np.sqrt(0.25 / n)


@pytest.mark.parametrize("w_real", [-1.0, -0.6, -0.1, 0.0, 0.3, 0.9])
def test_ternary_nonzero_probability_is_magnitude(w_real):
    n = 40_000
    cfg = CFG.replace(weights="ternary")
    w = np.full((1, n), int(w_real * 2**15))
    signs = sample_signs(w, _draws((1, n), 2), cfg)
    assert set(np.unique(signs)) <= {int(np.sign(w_real)), 0}
    assert abs((signs != 0).mean() - abs(w_real)) < 1 / 256 + 4 * np.sqrt(0.25 / n)


def test_pe_random_xor_and_uniform():
    u, v = _draws(64, 3), _draws(32, 4)
    r = pe_random(u, v)
    assert r.shape == (32, 64) and r[5, 7] == u[7] ^ v[5]
    counts = np.bincount(r.ravel(), minlength=256)
    assert counts.min() > 0
    block = pe_random(np.stack([u, u]), np.stack([v, v]))
    assert block.shape == (2, 32, 64) and (block[1] == r).all()


def test_deterministic_signs():
    w = np.array([[-2**15, -1, 0, 2**14 - 1, 2**14, 2**15 - 1]])
    assert list(sample_signs(w, None, CFG, deterministic=True)[0]) == [-1, -1, 1, 1, 1, 1]
    ternary = CFG.replace(weights="ternary")
    assert list(sample_signs(w, None, ternary, deterministic=True)[0]) == [-1, 0, 0, 0, 1, 1]
    assert (sample_layer(w, None, ternary, deterministic=True)
            == sample_signs(w, None, ternary, deterministic=True)).all()


def test_rshr_rounds_half_up():
    assert list(rshr(np.array([-3, -2, -1, 0, 1, 2, 3]), 1)) == [-1, -1, 0, 0, 1, 1, 2]
