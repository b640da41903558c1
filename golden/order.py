"""The on-chip epoch order: a keyed permutation of the training set without a multiplier.

``docs/datapath.md`` section 12. The trainer visits the ``n`` samples it holds in the order of a
bijection ``f_key`` of ``b``-bit indices (``b = bit_length(n - 1)``, at least 1), filtered to
``[0, n)``: for ``i = 0, 1, .. 2^b - 1``, the sample ``f_key(i)`` if it is below ``n``. Each
of the ``R = 4`` rounds of ``f`` is invertible, so ``f`` is a permutation of ``[0, 2^b)`` and the
filtered sequence a permutation of ``[0, n)``:

    x = (x + k_r) mod 2^b          k_r = the key rotated right by 8 r bits, its low b bits
    x = x XOR (x >> h)             h = ceil(b / 2)
    x = x XOR ((x << g) mod 2^b)   g = max(1, floor(b / 3))

An adder, two shifts by constants and two XORs a round: no multiplier, no table. The host gives
the key of each epoch (:func:`epoch_key`: MurmurHash3's finaliser of the run's seed and the
epoch), and the golden training loop uses the same order when it is checked against the chip.
"""

import numpy as np

from .rng import fmix32

__all__ = ["ROUNDS", "index_bits", "permute", "epoch_order", "epoch_key"]

#: Rounds of the index bijection.
ROUNDS = 4


def index_bits(n):
    """``b``: bits of an index below ``n`` (at least 1)."""
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"the data set must hold at least one sample, not {n!r}")
    return max(1, (int(n) - 1).bit_length())


def _round_key(key, r, bits):
    shift = 8 * r
    rotated = ((key >> shift) | (key << (32 - shift))) & 0xFFFFFFFF if shift else key
    return rotated & ((1 << bits) - 1)


def permute(i, key, bits):
    """``f_key`` on ``bits``-bit indices ``i`` (an int or an int64 array)."""
    mask = (1 << bits) - 1
    half, third = (bits + 1) // 2, max(1, bits // 3)
    x = np.asarray(i, dtype=np.int64) & mask
    for r in range(ROUNDS):
        x = (x + _round_key(int(key) & 0xFFFFFFFF, r, bits)) & mask
        x = x ^ (x >> half)
        x = x ^ ((x << third) & mask)
    return x


def epoch_order(n, key):
    """The ``n`` sample indices in the order the trainer visits them with ``key`` (int64)."""
    bits = index_bits(n)
    x = permute(np.arange(1 << bits, dtype=np.int64), key, bits)
    return x[x < n]


def epoch_key(seed, epoch):
    """The key of epoch ``epoch`` (from 0) of a run seeded with ``seed``: 32 bits."""
    return fmix32((int(seed) * 0x9E3779B9 + 0x7F4A7C15 + int(epoch) * 0x85EBCA6B) & 0xFFFFFFFF)
