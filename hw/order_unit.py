"""The on-chip epoch order: the next sample index of a keyed permutation, one round a cycle.

``OrderUnit(capacity)`` computes the order of ``fewmul.golden.order.epoch_order(size, key)``
(``docs/datapath.md`` section 12): for ``i = 0, 1, ..`` the ``b``-bit bijection ``f_key(i)``
(``b = bit_length(size - 1)``, at least 1), kept when below ``size``. A round (key add, two
XOR-shifts by ``b``-dependent amounts) takes one cycle and the comparison with ``size`` one more,
so an index costs ``5`` cycles plus 5 for every value of ``f`` skipped (at most
``2^b - size < size`` of them per epoch): it is found while the engine trains the previous
sample. ``start`` costs one set-up cycle more (``b``'s mask and shifts from the registered
``size``).

Ports
-----
start : In(1), size : In(range(capacity + 1)), key : In(32)
    Begin an epoch's order (``1 <= size <= capacity``).
valid : Out(1), index : Out(range(capacity))
    The next index is ready.
next : In(1)
    Take it (while ``valid``): the unit looks for the following one.
"""

from amaranth.hdl import Array, Const, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from fewmul.golden.order import ROUNDS

from ._checks import refusable

__all__ = ["OrderUnit"]


class OrderUnit(wiring.Component):
    """Keyed epoch order over up to ``capacity`` samples (see the module docstring)."""

    @refusable
    def __init__(self, capacity):
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
            raise ValueError(f"capacity must be a positive integer, not {capacity!r}")
        self._capacity = capacity
        super().__init__({
            "start": In(1),
            "size": In(range(capacity + 1)),
            "key": In(32),
            "valid": Out(1),
            "index": Out(range(max(capacity, 2))),
            "next": In(1),
        })

    @property
    def capacity(self):
        return self._capacity

    @property
    def bits(self):
        """Width of the index register: ``b`` of the largest data set."""
        return max(1, (self._capacity - 1).bit_length())

    def elaborate(self, platform):
        m = Module()
        width = self.bits
        size = Signal.like(self.size)
        key = Signal(32)
        mask = Signal(width)
        half = Signal(range(width + 1))
        third = Signal(range(width + 1))
        counter = Signal(width + 1)                        # i
        x = Signal(width)
        round_ = Signal(range(ROUNDS + 1))

        # b = bit_length(size - 1), at least 1 (a priority encoder), and its shift amounts:
        # from the registered size, in the SETUP cycle (``size`` arrives from the link's payload
        # bytes; encoding it there as well was the trainer's critical path)
        last = Signal.like(self.size)
        m.d.comb += last.eq(size - 1)
        found = Signal(range(width + 1))
        m.d.comb += found.eq(1)
        for bit in range(width):
            with m.If(last[bit]):
                m.d.comb += found.eq(bit + 1)
        thirds = Array(Const(max(1, b // 3), width.bit_length() + 1) for b in range(width + 1))

        round_key = Signal(32)
        with m.Switch(round_):
            for r in range(ROUNDS):
                with m.Case(r):
                    m.d.comb += round_key.eq(key.rotate_right(8 * r))
        added = Signal(width)
        mixed = Signal(width)
        following = Signal(width)
        m.d.comb += [added.eq((x + round_key[:width]) & mask),
                     mixed.eq(added ^ (added >> half)),
                     following.eq(mixed ^ ((mixed << third)[:width] & mask))]

        def begin():
            m.d.sync += [size.eq(self.size), key.eq(self.key),
                         counter.eq(0), x.eq(0), round_.eq(0)]
            m.next = "SETUP"

        def advance():
            m.d.sync += [counter.eq(counter + 1), x.eq(counter + 1), round_.eq(0)]
            m.next = "ROUND"

        with m.FSM(name="order"):
            with m.State("IDLE"):
                with m.If(self.start):
                    begin()
            with m.State("SETUP"):                  # b's mask and shifts from the size register
                m.d.sync += [mask.eq((Const(1, width + 1) << found) - 1),
                             half.eq((found + 1) >> 1), third.eq(thirds[found])]
                with m.If(self.start):
                    begin()
                with m.Else():
                    m.next = "ROUND"
            with m.State("ROUND"):
                with m.If(self.start):
                    begin()
                with m.Else():
                    m.d.sync += [x.eq(following), round_.eq(round_ + 1)]
                    with m.If(round_ == ROUNDS - 1):
                        m.next = "CHECK"
            with m.State("CHECK"):
                with m.If(self.start):
                    begin()
                with m.Elif(x < size):
                    m.next = "READY"
                with m.Else():
                    advance()
            with m.State("READY"):
                m.d.comb += self.valid.eq(~self.start)
                with m.If(self.start):
                    begin()
                with m.Elif(self.next):
                    advance()
        m.d.comb += self.index.eq(x)
        return m
