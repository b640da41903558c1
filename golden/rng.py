"""The random-number streams of the datapath (``docs/datapath.md`` section 6).

xorshift32 (13, 17, 5). A draw advances a stream once and returns the state's top ``bits``.
xorshift32 is linear over GF(2), so ``n`` consecutive states follow from the current one by a
table of the generator's powers applied to each state bit; that makes a whole step's draws one
vectorised numpy expression instead of ``n`` Python iterations.
"""

import enum

import numpy as np

__all__ = ["Stream", "xorshift32", "fmix32", "seed_states", "Xorshift32", "StreamSet"]

MASK32 = 0xFFFF_FFFF
_GOLDEN_GAMMA = 0x9E37_79B9
_ZERO_SEED_REPLACEMENT = 0x6D2B_79F5


class Stream(enum.IntEnum):
    COL_SAMPLE = 0
    ROW_SAMPLE = 1
    QUANT = 2
    COL_ROUND = 3
    ROW_ROUND = 4


def xorshift32(state):
    """One generator step (works on Python ints and on numpy uint32 arrays)."""
    if isinstance(state, np.ndarray):
        state = state.astype(np.uint32)
        state ^= state << np.uint32(13)
        state ^= state >> np.uint32(17)
        state ^= state << np.uint32(5)
        return state
    state ^= (state << 13) & MASK32
    state ^= state >> 17
    state ^= (state << 5) & MASK32
    return state


def fmix32(h):
    """MurmurHash3's 32-bit finaliser (host-side seeding only; it multiplies)."""
    h &= MASK32
    h ^= h >> 16
    h = (h * 0x85EB_CA6B) & MASK32
    h ^= h >> 13
    h = (h * 0xC2B2_AE35) & MASK32
    h ^= h >> 16
    return h


def seed_states(seed):
    """Initial states of the five streams for ``seed`` (a list of five nonzero ints)."""
    states = []
    for k in range(len(Stream)):
        s = fmix32((seed + _GOLDEN_GAMMA * (k + 1)) & MASK32)
        states.append(s if s else _ZERO_SEED_REPLACEMENT)
    return states


class _PowerTable:
    """``table[b, t]`` = state after ``t + 1`` steps from the basis state ``1 << b``."""

    def __init__(self):
        self.table = np.zeros((32, 0), dtype=np.uint32)

    def columns(self, n):
        have = self.table.shape[1]
        if have < n:
            want = max(n, 2 * have, 1024)
            state = (np.uint32(1) << np.arange(32, dtype=np.uint32)) if have == 0 \
                else self.table[:, -1].copy()
            extra = np.empty((32, want - have), dtype=np.uint32)
            for t in range(want - have):
                state = xorshift32(state)
                extra[:, t] = state
            self.table = np.concatenate([self.table, extra], axis=1)
        return self.table[:, :n]


_POWERS = _PowerTable()


class Xorshift32:
    """One stream: ``draws(n, bits)`` returns the next ``n`` draws as int64."""

    def __init__(self, state):
        if not 0 < state <= MASK32:
            raise ValueError(f"xorshift32 state must be in [1, 2^32 - 1], not {state!r}")
        self.state = int(state)

    def states(self, n):
        """The next ``n`` states (advancing the stream)."""
        if n == 0:
            return np.zeros(0, dtype=np.uint32)
        bits = [b for b in range(32) if (self.state >> b) & 1]
        out = np.bitwise_xor.reduce(_POWERS.columns(n)[bits], axis=0)
        self.state = int(out[-1])
        return out

    def draws(self, n, bits):
        return (self.states(n) >> np.uint32(32 - bits)).astype(np.int64)


class StreamSet:
    """The five streams of a training run, seeded as ``docs/datapath.md`` says."""

    def __init__(self, seed):
        self.streams = [Xorshift32(s) for s in seed_states(seed)]

    def __getitem__(self, stream):
        return self.streams[Stream(stream)]

    def step_draws(self, cfg):
        """All draws of one training step: a list (one per layer) of dicts ``u, v, q, u2, v2``."""
        ns = cfg.layers[:-1]
        ms = cfg.layers[1:]
        bits = cfg.rand_bits
        flat = {
            "u": self[Stream.COL_SAMPLE].draws(sum(ns), bits),
            "v": self[Stream.ROW_SAMPLE].draws(sum(ms), bits),
            "q": self[Stream.QUANT].draws(sum(ns), bits),
            "u2": self[Stream.COL_ROUND].draws(sum(ns), bits),
            "v2": self[Stream.ROW_ROUND].draws(sum(ms), bits),
        }
        per_layer = []
        n_off = m_off = 0
        for n, m in zip(ns, ms, strict=True):
            per_layer.append({
                "u": flat["u"][n_off:n_off + n], "q": flat["q"][n_off:n_off + n],
                "u2": flat["u2"][n_off:n_off + n],
                "v": flat["v"][m_off:m_off + m], "v2": flat["v2"][m_off:m_off + m],
            })
            n_off += n
            m_off += m
        return per_layer
