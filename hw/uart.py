"""UART, 8N1, with ``amaranth.lib.stream`` byte interfaces (the host link's physical layer).

``divisor`` is the number of clocks per bit: ``divisor = round(f_clk / baud)`` (for example
50 MHz / 115200 -> 434). Bits go least significant first: a start bit (0), 8 data bits, a stop
bit (1); the line idles high.

- :class:`UARTTx` shifts out one byte per 10 bit times; it takes the next byte as soon as the stop
  bit of the previous one has been sent, so back-to-back bytes run at the full baud rate.
- :class:`UARTRx` synchronises the line through two flip-flops, waits for a falling edge, checks
  the start bit is still low half a bit later (a shorter glitch is ignored), then samples each
  bit in its middle, one ``divisor`` apart. A stop bit that reads 0 drops the byte, pulses
  ``framing_error`` and waits for the line to go high again (so a break is one error, not many).
  A byte completed while the previous one is still unread replaces it and pulses ``overrun``.
  Sampling in the middle tolerates a baud mismatch of about ±4 % over the 10 bits of a frame.
- :class:`UART` is both, with a ``loopback`` input that feeds TX into RX for self-tests.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ._checks import refusable

__all__ = ["UARTTx", "UARTRx", "UART", "MIN_DIVISOR"]

#: Smallest clocks-per-bit the receiver handles (it needs a distinct half-bit point).
MIN_DIVISOR = 4


def _check_divisor(divisor):
    if isinstance(divisor, bool) or not isinstance(divisor, int) or not (
            MIN_DIVISOR <= divisor <= 2**24):
        raise ValueError(f"divisor must be an integer in [{MIN_DIVISOR}, {2**24}] clocks per "
                         f"bit, not {divisor!r}")
    return divisor


class UARTTx(wiring.Component):
    """Transmitter.

    Ports
    -----
    i : In(stream.Signature(8))
        Bytes to send; ``ready`` is high while the transmitter is idle.
    tx : Out(1)
        The serial line (idles high).

    Throughput: one byte per ``10 * divisor`` clocks.
    """

    @refusable
    def __init__(self, *, divisor):
        self._divisor = _check_divisor(divisor)
        super().__init__({"i": In(stream.Signature(8)), "tx": Out(1, init=1)})

    @property
    def divisor(self):
        return self._divisor

    @property
    def clocks_per_byte(self):
        return 10 * self._divisor

    def elaborate(self, platform):
        m = Module()
        shift = Signal(10, init=0x3FF)                  # stop, data[7:0], start; LSB goes first
        bits_left = Signal(range(11))
        timer = Signal(range(self._divisor))

        m.d.comb += self.tx.eq(shift[0])
        m.d.comb += self.i.ready.eq(bits_left == 0)
        with m.If(bits_left == 0):
            with m.If(self.i.valid):
                m.d.sync += [shift.eq(Cat(Const(0, 1), self.i.payload, Const(1, 1))),
                             bits_left.eq(10), timer.eq(self._divisor - 1)]
        with m.Elif(timer == 0):
            m.d.sync += [shift.eq(Cat(shift[1:], Const(1, 1))), bits_left.eq(bits_left - 1),
                         timer.eq(self._divisor - 1)]
        with m.Else():
            m.d.sync += timer.eq(timer - 1)
        return m


class UARTRx(wiring.Component):
    """Receiver.

    Ports
    -----
    rx : In(1)
        The serial line (asynchronous: it is synchronised inside).
    o : Out(stream.Signature(8))
        Received bytes; ``valid`` stays high until taken.
    framing_error : Out(1)
        One-cycle pulse: a byte whose stop bit read 0 was dropped.
    overrun : Out(1)
        One-cycle pulse: a byte arrived while ``o`` still held an untaken one (which is replaced).

    Latency: a byte appears about ``9.5 * divisor + 3`` clocks after its start bit's falling edge.
    """

    @refusable
    def __init__(self, *, divisor):
        self._divisor = _check_divisor(divisor)
        super().__init__({
            "rx": In(1, init=1),
            "o": Out(stream.Signature(8)),
            "framing_error": Out(1),
            "overrun": Out(1),
        })

    @property
    def divisor(self):
        return self._divisor

    def elaborate(self, platform):
        m = Module()
        meta = Signal(init=1)
        line = Signal(init=1)
        m.d.sync += [meta.eq(self.rx), line.eq(meta)]

        timer = Signal(range(self._divisor))
        data = Signal(8)
        bit_index = Signal(range(8))

        with m.If(self.o.valid & self.o.ready):
            m.d.sync += self.o.valid.eq(0)

        with m.FSM(name="uart_rx"):
            with m.State("IDLE"):
                with m.If(~line):
                    m.d.sync += timer.eq(self._divisor // 2 - 1)
                    m.next = "START"
            with m.State("START"):
                with m.If(timer != 0):
                    m.d.sync += timer.eq(timer - 1)
                with m.Elif(line):                       # glitch, not a start bit
                    m.next = "IDLE"
                with m.Else():
                    m.d.sync += [timer.eq(self._divisor - 1), bit_index.eq(0)]
                    m.next = "DATA"
            with m.State("DATA"):
                with m.If(timer != 0):
                    m.d.sync += timer.eq(timer - 1)
                with m.Else():
                    m.d.sync += [data.eq(Cat(data[1:], line)), bit_index.eq(bit_index + 1),
                                 timer.eq(self._divisor - 1)]
                    with m.If(bit_index == 7):
                        m.next = "STOP"
            with m.State("STOP"):
                with m.If(timer != 0):
                    m.d.sync += timer.eq(timer - 1)
                with m.Elif(line):
                    m.d.sync += [self.o.payload.eq(data), self.o.valid.eq(1)]
                    m.d.comb += self.overrun.eq(self.o.valid & ~self.o.ready)
                    m.next = "IDLE"
                with m.Else():
                    m.d.comb += self.framing_error.eq(1)
                    m.next = "BREAK"
            with m.State("BREAK"):                       # wait for the line to return high
                with m.If(line):
                    m.next = "IDLE"
        return m


class UART(wiring.Component):
    """:class:`UARTTx` and :class:`UARTRx` at one ``divisor``.

    Ports
    -----
    i : In(stream.Signature(8))
        Bytes to transmit on ``tx``.
    o : Out(stream.Signature(8))
        Bytes received on ``rx`` (or from ``tx`` when ``loopback`` is high).
    tx : Out(1)
    rx : In(1)
    loopback : In(1)
        Receive what is transmitted (``rx`` ignored); for self-tests.
    framing_error, overrun : Out(1)
        The receiver's pulses.
    """

    @refusable
    def __init__(self, *, divisor):
        self._divisor = _check_divisor(divisor)
        super().__init__({
            "i": In(stream.Signature(8)),
            "o": Out(stream.Signature(8)),
            "tx": Out(1, init=1),
            "rx": In(1, init=1),
            "loopback": In(1),
            "framing_error": Out(1),
            "overrun": Out(1),
        })

    @property
    def divisor(self):
        return self._divisor

    def elaborate(self, platform):
        m = Module()
        m.submodules.tx = tx = UARTTx(divisor=self._divisor)
        m.submodules.rx = rx = UARTRx(divisor=self._divisor)
        wiring.connect(m, wiring.flipped(self.i), tx.i)
        wiring.connect(m, rx.o, wiring.flipped(self.o))
        m.d.comb += [
            self.tx.eq(tx.tx),
            rx.rx.eq(Mux(self.loopback, tx.tx, self.rx)),
            self.framing_error.eq(rx.framing_error),
            self.overrun.eq(rx.overrun),
        ]
        return m
