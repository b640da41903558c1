"""UART (``hw/uart.py``): the receiver always returns to idle, the transmitter's frame is 8N1.

``rx_idle``   after the line has been high (idle) for ``10 * divisor`` clocks, whatever came
              before it (any bytes, glitches, breaks, a line stuck low), the receiver is in its
              IDLE state, ready for the next start bit. ``rx`` and ``o.ready`` are free in every
              cycle; k-induction proves it from every reachable state.
``tx_frame``  a byte taken on ``i`` leaves as 10 bit times of ``divisor`` clocks each: start
              bit 0, the 8 data bits least significant first, stop bit 1; the line is high and
              ``i.ready`` is high whenever no byte is being sent.
"""

from functools import partial

from amaranth.asserts import AnySeq
from amaranth.hdl import Assert, Cover, Signal

from ..formal import Proof
from ._harness import Harness, elaborate_once, fsm_states, internal, legal_state, mutated

BLOCK = "fewmul.hw.uart"

DIVISORS = (4, 5)


def _make_rx(divisor):
    from fewmul.hw.uart import UARTRx
    return UARTRx(divisor=divisor)


def _make_tx(divisor):
    from fewmul.hw.uart import UARTTx
    return UARTTx(divisor=divisor)


def rx_idle_bound(divisor):
    """Clocks of idle line after which the receiver must be IDLE."""
    return 10 * divisor


def _white_box(m, make, fsm_name):
    """``make()`` added to ``m`` elaborated once, so its FSM state can be read; returns
    ``(dut, fragment, state, encodings)`` (``dut`` is what the ports are read from)."""
    dut = make()
    fragment = elaborate_once(m, dut)
    _, state, states = fsm_states(fragment, fsm_name)
    m.d.comb += Assert(legal_state(state, states))
    return dut, fragment, state, states


def _rx_idle(m, make, *, divisor, covers=False):
    dut, fragment, state, states = _white_box(m, make, "uart_rx")
    timer, bit_index = internal(fragment, "timer", "bit_index")
    m.d.comb += Assert(timer < dut.divisor)             # its range may hold more values
    rx, ready = AnySeq(1), AnySeq(1)
    m.d.comb += [dut.rx.eq(rx), dut.o.ready.eq(ready)]
    bound = rx_idle_bound(divisor)
    high_for = Signal(range(bound + 1))                 # saturating count of idle-line clocks
    with m.If(~rx):
        m.d.sync += high_for.eq(0)
    with m.Elif(high_for != bound):
        m.d.sync += high_for.eq(high_for + 1)
    with m.If(high_for == bound):
        m.d.comb += Assert(state == states["IDLE"])
    if covers:                                          # the bound is nearly tight
        m.d.comb += Cover((high_for == 9 * divisor) & (state != states["IDLE"]))
        m.d.comb += Cover(dut.framing_error)
        m.d.comb += Cover(dut.o.valid)


def _tx_frame(m, make, *, divisor, covers=False):
    dut = make()
    fragment = elaborate_once(m, dut)
    timer, bits_left = internal(fragment, "timer", "bits_left")
    m.d.comb += [Assert(timer < dut.divisor), Assert(bits_left <= 10)]   # strengthen induction
    valid, payload = AnySeq(1), AnySeq(8)
    m.d.comb += [dut.i.valid.eq(valid), dut.i.payload.eq(payload)]
    frame_clocks = 10 * divisor
    busy = Signal()
    clock = Signal(range(frame_clocks))                  # clock within the frame being sent
    byte = Signal(8)
    with m.If(~busy):
        with m.If(valid & dut.i.ready):
            m.d.sync += [busy.eq(1), clock.eq(0), byte.eq(payload)]
    with m.Else():
        m.d.sync += clock.eq(clock + 1)
        with m.If(clock == frame_clocks - 1):
            m.d.sync += busy.eq(0)
    with m.If(~busy):
        m.d.comb += [Assert(dut.tx), Assert(dut.i.ready)]
    with m.Else():
        m.d.comb += Assert(~dut.i.ready)
        with m.Switch(clock):
            for c in range(frame_clocks):
                bit = c // divisor                       # 0: start, 1..8: data, 9: stop
                with m.Case(c):
                    if bit == 0:
                        m.d.comb += Assert(~dut.tx)
                    elif bit == 9:
                        m.d.comb += Assert(dut.tx)
                    else:
                        m.d.comb += Assert(dut.tx == byte[bit - 1])
    if covers:
        m.d.comb += Cover(busy & (clock == frame_clocks - 1) & valid & (byte == 0xA5))


def proofs():
    out = []
    for divisor in DIVISORS:
        make_rx, make_tx = partial(_make_rx, divisor), partial(_make_tx, divisor)
        bound = rx_idle_bound(divisor)
        out += [
            Proof(name=f"uart.d{divisor}.rx_idle", block="uart",
                  prop=f"line idle {bound} clocks => receiver IDLE, from any state",
                  build=partial(Harness, partial(_rx_idle, divisor=divisor), make_rx),
                  mode="prove", depth=bound + 2),
            Proof(name=f"uart.d{divisor}.tx_frame", block="uart",
                  prop="byte -> start 0, data LSB first, stop 1, divisor clocks each; idle high",
                  build=partial(Harness, partial(_tx_frame, divisor=divisor), make_tx),
                  mode="prove",
                  depth=10 * divisor + 2),
        ]
    divisor = DIVISORS[0]
    out += [
        Proof(name=f"uart.d{divisor}.rx_corners", block="uart",
              prop="reachable: busy 9 divisors into an idle line, framing error, a byte",
              build=partial(Harness, partial(_rx_idle, divisor=divisor, covers=True),
                            partial(_make_rx, divisor)),
              mode="cover", depth=rx_idle_bound(divisor) + 4),
        Proof(name=f"uart.d{divisor}.tx_corners", block="uart",
              prop="reachable: a whole frame sent and the next byte offered",
              build=partial(Harness, partial(_tx_frame, divisor=divisor, covers=True),
                            partial(_make_tx, divisor)),
              mode="cover", depth=10 * divisor + 4),
    ]
    return out


def mutants():
    divisor = DIVISORS[0]
    rx_idle, tx_frame = proofs()[:2]
    body = partial(_rx_idle, divisor=divisor)
    return [
        # A receiver at half the baud rate needs twice as long to finish a byte.
        mutated(rx_idle, body, partial(_make_rx, 2 * divisor), "half_baud",
                depth=rx_idle_bound(divisor) + 16),
        mutated(rx_idle, body, partial(_make_rx, divisor), "rx_inverted",
                inputs={"rx": lambda rx: ~rx}),
        mutated(tx_frame, partial(_tx_frame, divisor=divisor), partial(_make_tx, divisor),
                "payload_bit_flipped", inputs={"i.payload": lambda p: p ^ 0x10}),
        mutated(tx_frame, partial(_tx_frame, divisor=divisor), partial(_make_tx, divisor + 1),
                "slow_bit"),
    ]
