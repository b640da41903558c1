"""Golden twin of ``fewmul.hw.shifter``: arithmetic right shift keeping the shifted-out bits.

``wide = (value << frac_bits) >> shift``: ``whole = wide >> frac_bits`` is
``floor(value / 2^shift)``
and ``fraction = wide & (2^frac_bits - 1)`` the top ``frac_bits`` of the bits shifted out, which
is what stochastic rounding compares against a random draw (``docs/datapath.md`` section 8).
"""

import numpy as np

__all__ = ["shift_right", "round_up"]


def shift_right(value, shift, frac_bits=0, max_shift=None, round_fraction=False):
    """Return ``(whole, fraction)``; shifts above ``max_shift`` are clamped to it.

    ``round_fraction``: ``wide`` rounds half up instead of down (``Config.update_fraction``
    ``round``): the highest bit shifted out below the ``frac_bits`` is added as a carry.
    """
    value = np.asarray(value, dtype=np.int64)
    shift = np.asarray(shift, dtype=np.int64)
    if max_shift is not None:
        shift = np.minimum(shift, max_shift)
    wide = value << frac_bits
    if round_fraction:
        wide = wide + np.where(shift > 0, np.int64(1) << np.maximum(shift - 1, 0), 0)
    wide = wide >> shift
    return wide >> frac_bits, wide & ((1 << frac_bits) - 1)


def round_up(fraction, rand, frac_bits, mode):
    """1 where the shifted value rounds up: ``rand < fraction`` (stochastic), or half up."""
    fraction = np.asarray(fraction, dtype=np.int64)
    if mode == "stochastic":
        return (np.asarray(rand, dtype=np.int64) < fraction).astype(np.int64)
    if mode == "nearest":
        return (fraction >= (1 << (frac_bits - 1))).astype(np.int64)
    raise ValueError(f"rounding mode must be stochastic or nearest, not {mode!r}")
