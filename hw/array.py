"""The processing-element array: forward, backward and update of one ``R x C`` weight tile.

Port list (stable; ``hw/baseline.py`` and the board tops mirror it)
--------------------------------------------------------------------
``PEArray(cfg)`` with ``R = cfg.array_rows`` (outputs ``i``), ``C = cfg.array_cols`` (inputs
``j``), ``B = cfg.rand_bits``. Two streams and one status bit, all in the ``sync`` domain::

    cmd    : In(stream.Signature(command_layout(cfg)))     one command per handshake
    result : Out(stream.Signature(result_layout(cfg)))    one result per FORWARD/BACKWARD/READ
    idle   : Out(1)                                        no command in progress or in flight

``cmd.payload`` (a ``data.StructLayout``; fields an operation does not read are ignored):

    op            Op (3 bits)                 FORWARD, BACKWARD, UPDATE, LOAD, READ
    deterministic 1                           FORWARD/BACKWARD: deterministic signs (inference)
    x             C x signed(act_bits)        FORWARD, UPDATE: layer input x[j]
    u             C x unsigned(B)             FORWARD, BACKWARD: column sampling draws u[j]
    q             C x unsigned(B)             UPDATE: quantizer draws q[j]
    u2            C x unsigned(B)             UPDATE: column rounding draws u'[j]
    weights       C x signed(weight_bits)     LOAD: one row of weights
    delta         R x signed(err_bits)        BACKWARD, UPDATE: errors δ[i]
    v             R x unsigned(B)             FORWARD, BACKWARD: row sampling draws v[i]
    v2            R x unsigned(B)             UPDATE: row rounding draws v'[i]

``result.payload``:

    op            Op                          which command produced it
    acc           R x signed(acc_width)       FORWARD: acc[i] = sum_j s[i,j] x[j]   (exact)
    grad          C x signed(grad_width)      BACKWARD: g[j] = sum_i s[i,j] δ[i]    (exact)
    weights       C x signed(weight_bits)     READ: one row of weights

with ``acc_width = act_bits + bit_length(C)`` and ``grad_width = err_bits + bit_length(R)``
(the exact range of a sum of ``C`` values in ``[-2^(bits-1), 2^(bits-1)]``).

Operations (``docs/datapath.md`` sections 3, 5, 7, 8; ``docs/array.md`` for the organisation):

- ``FORWARD``: sample ``s[i,j]`` from the stored weights with ``r[i,j] = u[j] XOR v[i]`` and
  return the row sums ``acc``. Throughput 1 per cycle, latency :attr:`PEArray.latency`.
- ``BACKWARD``: the same signs (same weights, same ``u``, ``v``: pass the forward's draws) and
  the column sums ``grad`` of ``s[i,j] δ[i]``. Throughput 1 per cycle.
- ``UPDATE``: ``w[i,j] = sat(w[i,j] + round(δ[i] Q(x[j]) 2^-lr))`` for the whole tile, with the
  quantizer draws ``q`` and rounding draws ``u'[j] XOR v'[i]``. Occupies the array for
  :attr:`PEArray.update_cycles` cycles; no result.
- ``LOAD``: push one row into the tile; after ``R`` LOADs the first row pushed is row 0.
  No result. Throughput 1 per cycle.
- ``READ``: return row 0 and rotate it back in as row ``R - 1``; ``R`` READs return rows
  ``0 .. R-1`` in order and leave the tile as it was. Throughput 1 per cycle.

Commands execute in order and results come out in order; back-pressure on ``result`` stalls
``cmd`` (never the datapath: results land in an output FIFO that is never overrun).
"""

from amaranth.hdl import Module, signed
from amaranth.lib import data, enum, stream, wiring
from amaranth.lib.wiring import In, Out

from ..config import Config

__all__ = ["Op", "PEArray", "command_layout", "result_layout", "acc_width", "grad_width"]


class Op(enum.Enum, shape=3):
    """Array operations (``cmd.payload.op``)."""

    FORWARD = 0
    BACKWARD = 1
    UPDATE = 2
    LOAD = 3
    READ = 4


def acc_width(cfg):
    """Width of a forward partial sum over ``cfg.array_cols`` inputs (exact, never wraps)."""
    return cfg.act_bits + cfg.array_cols.bit_length()


def grad_width(cfg):
    """Width of a backward partial sum over ``cfg.array_rows`` errors (exact, never wraps)."""
    return cfg.err_bits + cfg.array_rows.bit_length()


def command_layout(cfg):
    """``data.StructLayout`` of ``cmd.payload`` (see the module docstring)."""
    rows, cols, bits = cfg.array_rows, cfg.array_cols, cfg.rand_bits
    return data.StructLayout({
        "op": Op,
        "deterministic": 1,
        "x": data.ArrayLayout(signed(cfg.act_bits), cols),
        "u": data.ArrayLayout(bits, cols),
        "q": data.ArrayLayout(bits, cols),
        "u2": data.ArrayLayout(bits, cols),
        "weights": data.ArrayLayout(signed(cfg.weight_bits), cols),
        "delta": data.ArrayLayout(signed(cfg.err_bits), rows),
        "v": data.ArrayLayout(bits, rows),
        "v2": data.ArrayLayout(bits, rows),
    })


def result_layout(cfg):
    """``data.StructLayout`` of ``result.payload`` (see the module docstring)."""
    return data.StructLayout({
        "op": Op,
        "acc": data.ArrayLayout(signed(acc_width(cfg)), cfg.array_rows),
        "grad": data.ArrayLayout(signed(grad_width(cfg)), cfg.array_cols),
        "weights": data.ArrayLayout(signed(cfg.weight_bits), cfg.array_cols),
    })


class PEArray(wiring.Component):
    """Weight-stationary ``R x C`` array of multiplier-free processing elements.

    Work in progress: the port list above is final, the datapath lands next.
    """

    def __init__(self, cfg):
        if not isinstance(cfg, Config):
            raise ValueError(f"cfg must be a fewmul.config.Config, not {cfg!r}")
        self._cfg = cfg
        super().__init__({
            "cmd": In(stream.Signature(command_layout(cfg))),
            "result": Out(stream.Signature(result_layout(cfg))),
            "idle": Out(1),
        })

    @property
    def cfg(self):
        return self._cfg

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.idle.eq(1)
        return m
