"""Registered binary adder trees and delay lines: the pipeline plumbing of the arrays.

:func:`adder_tree` sums ``n`` signed terms with one register level per tree level
(:func:`tree_depth` levels, exact widths: a sum of two ``w``-bit terms is ``w + 1`` bits), and
:func:`delay` equalises paths of different depth. Both add signals to a module ``m`` and return
the final signal; every register is reset-less (a valid bit travels beside the data).
"""

from amaranth.hdl import Signal, signed

__all__ = ["tree_depth", "adder_tree", "delay"]


def tree_depth(n):
    """Levels of a binary adder tree over ``n`` terms."""
    return (n - 1).bit_length()


def adder_tree(m, terms, name):
    """Registered binary adder tree over ``terms``; returns ``(sum, depth)``."""
    level = 0
    terms = list(terms)
    while len(terms) > 1:
        following = []
        for k in range(0, len(terms) - 1, 2):
            a, b = terms[k], terms[k + 1]
            total = Signal(signed(max(len(a), len(b)) + 1), name=f"{name}_l{level}_{k // 2}",
                           reset_less=True)
            m.d.sync += total.eq(a + b)
            following.append(total)
        if len(terms) % 2:
            carried = Signal.like(terms[-1], name=f"{name}_l{level}_{len(terms) // 2}",
                                  reset_less=True)
            m.d.sync += carried.eq(terms[-1])
            following.append(carried)
        terms = following
        level += 1
    return terms[0], level


def delay(m, value, cycles, name):
    """``value`` delayed by ``cycles`` register stages (``value`` itself for 0)."""
    for k in range(cycles):
        stage = Signal.like(value, name=f"{name}_d{k}", reset_less=True)
        m.d.sync += stage.eq(value)
        value = stage
    return value
