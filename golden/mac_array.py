"""Golden twin of ``fewmul.hw.mac_array.SystolicMacArray``: a weight matrix and its MACs.

The array's contract (``hw/mac_array.py``): commands in order; a MAC gives ``y = x W`` exactly
(``y[j] = sum_i W[i, j] x[i]``), a LOAD puts a row on top and drops the last,
``W = [w; W[:-1]]``. Integers throughout (int64: exact for operands up to 24 bits and up to
2^14 rows).
"""

import numpy as np

__all__ = ["reference"]


def reference(rows, cols, commands, weights=None):
    """``(outputs, final weights)`` of ``commands`` on an ``rows x cols`` array.

    ``commands``: dicts with ``load`` (bool), ``x`` (``rows`` ints, read by a MAC) and ``w``
    (``cols`` ints, read by a LOAD). ``weights``: the starting matrix (default: zeros, the
    array after reset). ``outputs``: one int64 array of ``cols`` sums per MAC, in order.
    """
    w = (np.zeros((rows, cols), dtype=np.int64) if weights is None
         else np.array(weights, dtype=np.int64).reshape(rows, cols))
    outputs = []
    for command in commands:
        if command["load"]:
            row = np.asarray(command["w"], dtype=np.int64).reshape(1, cols)
            w = np.concatenate([row, w[:-1]])
        else:
            x = np.asarray(command["x"], dtype=np.int64).reshape(rows)
            outputs.append(x @ w)
    return outputs, w
