"""Config rejects bad parameters with a message that quotes the value."""

import pytest

from fewmul.config import Config


@pytest.mark.parametrize("changes, message", [
    (dict(layers=(64,)), "layers must be a tuple of at least two positive integers, not (64,)"),
    (dict(layers=[64, 10]),
     "layers must be a tuple of at least two positive integers, not [64, 10]"),
    (dict(layers=(64, 0, 10)),
     "layers must be a tuple of at least two positive integers, not (64, 0, 10)"),
    (dict(layers=(64, 5000, 10)), "layers must have at most 4096 units each, not (64, 5000, 10)"),
    (dict(weights="quaternary"), "weights must be one of binary, ternary; not 'quaternary'"),
    (dict(sampling="random"), "sampling must be one of stochastic, deterministic; not 'random'"),
    (dict(quantizer="nearest"),
     "quantizer must be one of stochastic, deterministic; not 'nearest'"),
    (dict(activation="sigmoid"), "activation must be one of relu, htanh; not 'sigmoid'"),
    (dict(update_rounding="floor"),
     "update_rounding must be one of stochastic, nearest; not 'floor'"),
    (dict(act_bits=2), "act_bits must be in [3, 16], not 2"),
    (dict(act_bits=8.0), "act_bits must be an integer, not 8.0"),
    (dict(weight_bits=True), "weight_bits must be an integer, not True"),
    (dict(weight_bits=25), "weight_bits must be in [3, 24], not 25"),
    (dict(err_bits=3), "err_bits must be in [4, 32], not 3"),
    (dict(err_frac=6), "err_frac 6 does not fit act_bits 8 and err_bits 16: err_frac must be "
                       "in [act_bits - 1, err_bits - 2] = [7, 14]; set err_frac in that range"),
    (dict(err_bits=8), "err_bits 8 is too narrow for act_bits 8: err_frac must be in "
                       "[act_bits - 1, err_bits - 2] = [7, 6], which is empty; use err_bits >= 9 "
                       "(with err_frac in [7, err_bits - 2]) or act_bits <= 7"),
    (dict(err_bits=10), "err_frac 12 does not fit act_bits 8 and err_bits 10: err_frac must be "
                        "in [act_bits - 1, err_bits - 2] = [7, 8]; set err_frac in that range or "
                        "err_bits >= 14"),
    (dict(lr_shift=28, lr_range=3),
     "lr_shift + lr_range must be <= 30 (the largest learning-rate shift), not 28 + 3: lower "
     "lr_range to 2 or less"),
    (dict(rand_bits=0), "rand_bits must be in [1, 16], not 0"),
    (dict(shift_bits=6), "shift_bits must be in [1, 5], not 6"),
    (dict(lr_shift=-1), "lr_shift must be in [0, 30], not -1"),
    (dict(seed=2**32), "seed must be in [0, 4294967295], not 4294967296"),
    (dict(array_rows=0), "array_rows must be in [1, 256], not 0"),
    (dict(array_cols=257), "array_cols must be in [1, 256], not 257"),
    (dict(lr_shift=2),
     "lr_shift 2 too small: the weight update must be a right shift, so err_frac + lr_shift - "
     "(weight_bits - 1) = -1 must be >= 0 (raise lr_shift to 3 or more)"),
    (dict(scale_shifts=(3,)),
     "scale_shifts must be a tuple of 2 integers in [0, 16], one per layer, not (3,)"),
    (dict(scale_shifts=(3, 17)),
     "scale_shifts must be a tuple of 2 integers in [0, 16], one per layer, not (3, 17)"),
])
def test_config_error_messages(changes, message):
    with pytest.raises(ValueError) as info:
        Config(**{"layers": (64, 64, 10), **changes})
    assert str(info.value) == message


def test_config_round_trips_through_dict():
    cfg = Config(layers=(64, 32, 10), weights="ternary", weight_bits=6, lr_shift=12)
    assert Config.from_dict(cfg.as_dict()).as_dict() == cfg.as_dict()
    assert cfg.replace(seed=9).seed == 9 and cfg.scales == cfg.replace(seed=9).scales


def test_accumulator_widths_are_exact():
    """The widest sums (n products of the most negative value) fit, one bit fewer would not."""
    cfg = Config()
    for n in range(1, 300):
        for bits, width in [(cfg.act_bits, cfg.acc_bits(n)), (cfg.err_bits, cfg.back_acc_bits(n))]:
            extreme = n * 2 ** (bits - 1)                        # n * |most negative value|
            assert -(2 ** (width - 1)) <= -extreme and extreme <= 2 ** (width - 1) - 1
            assert extreme > 2 ** (width - 2) - 1                # width - 1 bits overflow


def test_lr_range_sizes_the_update_shifter_and_bounds_run_time_shifts():
    cfg = Config(lr_shift=5, lr_range=3)
    assert list(cfg.lr_shifts) == [5, 6, 7, 8]
    assert cfg.update_max_shift == cfg.replace(lr_shift=8).update_base_shift + cfg.max_shift
    assert cfg.check_lr_shift(8) == 8
    for bad in (4, 9, 6.0, True):
        with pytest.raises(ValueError, match=repr(bad).replace(".", r"\.")):
            cfg.check_lr_shift(bad)
    with pytest.raises(ValueError, match="lr_range.*-1"):
        Config(lr_range=-1)
