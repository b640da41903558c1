"""xorshift32 random-draw generator (``docs/datapath.md`` section 6).

Golden twin: ``fewmul.golden.rng.Xorshift32``. One generator is 32 flip-flops and the XOR network
of ``x ^= x << 13; x ^= x >> 17; x ^= x << 5``; it yields one ``bits``-wide draw per clock.
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ._checks import refusable

__all__ = ["Xorshift32", "xorshift32_next"]


def xorshift32_next(state):
    """The next xorshift32 state as an Amaranth expression of a 32-bit ``state`` value."""
    a = (state ^ (state << 13))[:32]
    b = a ^ (a >> 17)
    return (b ^ (b << 5))[:32]


class Xorshift32(wiring.Component):
    """A loadable xorshift32 stream of ``bits``-wide draws.

    Parameters
    ----------
    bits : int
        Width of a draw (``cfg.rand_bits``), in [1, 32].

    Ports
    -----
    load : In(1)
        Load ``seed`` into the state this cycle (takes priority over a draw). The host loads
        nonzero states (``fewmul.golden.rng.seed_states``); a zero state never changes.
    seed : In(32)
    advance : In(1)
        Take the draw on offer and advance the state (one draw per enabled cycle).
    draw : Out(bits)
        The draw on offer: the top ``bits`` of the *next* state. The values seen in the cycles
        with ``advance`` high are exactly the golden stream's ``draws(n, bits)``.
    state : Out(32)
        The current state (the last draw's full state), for read-back.

    Latency 0 (the draw on offer is combinational from the state register); throughput one
    draw per cycle.
    """

    latency = 0

    @refusable
    def __init__(self, *, bits):
        if isinstance(bits, bool) or not isinstance(bits, int) or not 1 <= bits <= 32:
            raise ValueError(f"bits must be an integer in [1, 32], not {bits!r}")
        self._bits = bits
        super().__init__({
            "load": In(1),
            "seed": In(32),
            "advance": In(1),
            "draw": Out(bits),
            "state": Out(32),
        })

    @property
    def bits(self):
        return self._bits

    @property
    def throughput(self):
        """Draws per clock cycle."""
        return 1

    def elaborate(self, platform):
        m = Module()
        state = Signal(32, init=1)
        following = Signal(32)
        m.d.comb += [
            following.eq(xorshift32_next(state)),
            self.state.eq(state),
            self.draw.eq(following[32 - self._bits:]),
        ]
        with m.If(self.load):
            m.d.sync += state.eq(self.seed)
        with m.Elif(self.advance):
            m.d.sync += state.eq(following)
        return m
