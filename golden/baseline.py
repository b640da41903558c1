"""Golden twin of ``fewmul.hw.baseline.MultiplierArray``, the multiplier training baseline.

The same commands as the fewmul array (``FORWARD``, ``BACKWARD``, ``UPDATE``, ``LOAD``,
``READ``), computed with real multiplies: exact sums of products shifted by the weight fraction,
and the update ``w += round(δ x 2^-(E + F + lr - Wf))`` rounded like the fewmul update
(:mod:`.shifter`) and saturated to the weight width (``docs/datapath.md``).
"""

import numpy as np

from .shifter import round_up, shift_right

__all__ = ["reference"]


def reference(cfg, weights, commands):
    """Bit-exact numpy model of ``fewmul.hw.baseline.MultiplierArray``: ``(results, final
    weights)``.

    ``weights``: int array (R, C); ``commands``: list of dicts with ``op`` (a
    ``fewmul.hw.array.Op`` or its name)
    and the numpy fields the operation reads (``x`` (C,), ``delta`` (R,), ``u2`` (C,),
    ``v2`` (R,), ``weights`` (C,), and for UPDATE ``lr_offset``, 0 when missing: the learning
    rate is ``2^-(lr_shift + lr_offset)``). Results are ``(op, value)`` for FORWARD (acc, (R,)),
    BACKWARD (grad, (C,)) and READ (row, (C,)).
    """
    w = np.array(weights, dtype=np.int64)
    wf, bits = cfg.weight_frac, cfg.rand_bits
    shift = cfg.update_base_shift + cfg.act_frac
    hi, lo = (1 << (cfg.weight_bits - 1)) - 1, -(1 << (cfg.weight_bits - 1))
    results = []
    for command in commands:
        op = command["op"]
        name = getattr(op, "name", op)
        if name == "FORWARD":
            x = np.asarray(command["x"], dtype=np.int64)
            results.append((op, ((w * x[None, :]) >> wf).sum(axis=1)))
        elif name == "BACKWARD":
            delta = np.asarray(command["delta"], dtype=np.int64)
            results.append((op, ((w * delta[:, None]) >> wf).sum(axis=0)))
        elif name == "UPDATE":
            x = np.asarray(command["x"], dtype=np.int64)
            delta = np.asarray(command["delta"], dtype=np.int64)
            lr_offset = int(command.get("lr_offset", 0))
            assert 0 <= lr_offset <= cfg.lr_range, lr_offset
            # the golden model's shift and rounding, on the exact product instead of δ Q(x)
            whole, fraction = shift_right(delta[:, None] * x[None, :], shift + lr_offset, bits,
                                          round_fraction=cfg.update_fraction == "round")
            rho = None
            if cfg.update_rounding == "stochastic":
                rho = (np.asarray(command["v2"], dtype=np.int64)[:, None]
                       ^ np.asarray(command["u2"], dtype=np.int64)[None, :])
            up = round_up(fraction, rho, bits, cfg.update_rounding)
            w = np.clip(w + whole + up, lo, hi)
        elif name == "LOAD":
            w = np.concatenate([w[1:], np.asarray(command["weights"], dtype=np.int64)[None]])
        elif name == "READ":
            results.append((op, w[0].copy()))
            w = np.concatenate([w[1:], w[:1]])
    return results, w
