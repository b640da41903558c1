"""How the training engine lays a whole MLP over ``K x K`` tiles (``docs/engine.md``).

:class:`EnginePlan` is plain Python: per-layer tile counts and memory base addresses, the
constant tables the sequencer (:mod:`fewmul.hw.sequencer`) indexes by layer. Layer ``l`` has
``N = layers[l]`` inputs and ``M = layers[l+1]`` outputs; it is cut into ``TR = ceil(M / K)``
row tiles and ``TC = ceil(N / K)`` column tiles (``K = array_rows = array_cols``).

Memory layouts (one memory per kind, layers concatenated):

- weights: one word = one ``K x K`` tile; tile ``(tr, tc)`` of layer ``l`` at
  ``tile_base[l] + tr TC + tc``, lane ``r K + c`` holding ``w[tr K + r, tc K + c]``;
- vectors: one word = ``K`` lanes of one layer boundary ``k`` (the ``layers[k]`` values between
  layer ``k - 1`` and layer ``k``), word ``w`` of boundary ``k`` at ``vec_base[k] + w``: layer
  ``l``'s inputs ``x`` and column draws ``u, q, u'`` at boundary ``l``; its outputs' biases,
  errors ``δ``, activation masks and row draws ``v, v'`` at boundary ``l + 1``. A layer's
  output group ``tr`` is the next layer's input word ``tr``: no lane is ever moved.

Padding lanes (``j >= N``, ``i >= M``) of ``x`` and ``δ`` stay 0, so they add nothing to a sum
and never move a weight; padding weights stay 0.
"""

from dataclasses import dataclass

from ..config import Config
from ._checks import check_config

__all__ = ["EnginePlan"]


def _ceil_div(a, b):
    return -(-a // b)


def _is_pow2(n):
    return n >= 1 and n & (n - 1) == 0


@dataclass(frozen=True)
class EnginePlan:
    cfg: Config

    def __post_init__(self):
        cfg = self.cfg
        check_config(cfg)                     # a Config whose modes the datapath implements
        for name in ("array_rows", "array_cols"):
            if not _is_pow2(getattr(cfg, name)):
                raise ValueError(f"the engine needs a power-of-two {name}, not "
                                 f"{getattr(cfg, name)!r}")
        if cfg.act_bits > 8:
            raise ValueError(f"the engine takes one byte per input: act_bits must be <= 8, "
                             f"not {cfg.act_bits!r}")
        if cfg.layers[-1] > 256:
            raise ValueError(f"the engine answers a class in one byte: at most 256 outputs, "
                             f"not {cfg.layers[-1]!r}")

    # -- per layer --------------------------------------------------------------------------
    @property
    def n_layers(self):
        return self.cfg.n_layers

    @property
    def rows(self):
        return self.cfg.array_rows

    @property
    def cols(self):
        return self.cfg.array_cols

    @property
    def n(self):
        return self.cfg.layers[:-1]

    @property
    def m(self):
        return self.cfg.layers[1:]

    @property
    def tc(self):
        return tuple(_ceil_div(n, self.cols) for n in self.n)

    @property
    def tr(self):
        return tuple(_ceil_div(m, self.rows) for m in self.m)

    @staticmethod
    def _bases(sizes):
        out, total = [], 0
        for s in sizes:
            out.append(total)
            total += s
        return tuple(out), total

    @property
    def tiles(self):
        """Weight tiles of the whole network."""
        return sum(r * c for r, c in zip(self.tr, self.tc, strict=True))

    @property
    def acc_bits(self):
        """Width of a row's accumulated forward sum over all column tiles (never wraps)."""
        return self.cfg.act_bits + (max(self.tc) * self.cols).bit_length() + 1

    @property
    def grad_bits(self):
        """Width of a column's accumulated backward sum over all row tiles (never wraps)."""
        return self.cfg.err_bits + (max(self.tr) * self.rows).bit_length() + 1

    # -- the streaming engine's layout (square K x K tiles) ----------------------------------
    @property
    def lanes(self):
        """``K``: the streaming engine's tiles are ``K x K`` (``array_rows == array_cols``)."""
        if self.rows != self.cols:
            raise ValueError(f"the streaming engine needs a square array, not "
                             f"{self.rows} x {self.cols} (array_rows x array_cols)")
        return self.rows

    @property
    def vec_words(self):
        """Words of ``K`` lanes of each layer boundary ``k = 0 .. L`` (``layers[k]`` values)."""
        return tuple(_ceil_div(n, self.lanes) for n in self.cfg.layers)

    @property
    def vec_base(self):
        """First word of each boundary in the vector memories (boundaries concatenated)."""
        return self._bases(self.vec_words)[0]

    @property
    def vec_depth(self):
        return self._bases(self.vec_words)[1]

    @property
    def tile_counts(self):
        """Tiles of each layer, ``TR_l * TC_l``."""
        return tuple(r * c for r, c in zip(self.tr, self.tc, strict=True))

    @property
    def tile_base(self):
        """First tile word of each layer: tile ``(tr, tc)`` at ``tile_base[l] + tr TC + tc``."""
        return self._bases(self.tile_counts)[0]
