"""A synthesis harness that gives a block registered inputs and outputs, for Fmax and area.

Place-and-route needs pins, and a bare block's inputs would be optimised away if tied off. The
harness feeds every input bit from a shift chain clocked from one input pin, registers every
output, and folds the outputs into one LED with an XOR tree registered at every level (4 bits
per LUT, :func:`fold`), so nothing is removed and the timing path measured is register ->
block -> register: a one-cycle fold of a wide result (the 2 x 4 systolic array's 140 bits) was
itself the critical path of fast blocks (16.5 ns on the iCE40, 10 of them routing).
"""

from amaranth.hdl import Cat, Elaboratable, Module, Signal, Value
from amaranth.lib import io, wiring
from amaranth.lib.wiring import Flow

__all__ = ["RegisteredHarness", "fold"]


def fold(m, value, name="fold"):
    """The XOR of ``value``'s bits, through a tree of 4-input XORs with a register after every
    level (``ceil(log4(len(value)))`` cycles, at least 1)."""
    level = 0
    while True:
        chunks = [value[k:k + 4] for k in range(0, len(value), 4)]
        reduced = Signal(len(chunks), name=f"{name}_{level}")
        m.d.sync += reduced.eq(Cat(chunk.xor() for chunk in chunks))
        if len(chunks) == 1:
            return reduced
        value, level = reduced, level + 1


class RegisteredHarness(Elaboratable):
    """Wrap ``block`` (a Component) between a serial-in input chain and an XOR-reduced output.

    ``data_pin`` / ``led`` name the platform resources of the serial input and of the folded
    output; with ``None`` the harness requests no pin and the enclosing top drives
    :attr:`serial_in` / reads :attr:`folded` itself.
    """

    def __init__(self, block, *, data_pin=("button", 0), led=("led", 0)):
        if not isinstance(block, wiring.Component):
            raise TypeError(f"block must be an amaranth.lib.wiring.Component, not {block!r}")
        self.block = block
        self.data_pin = data_pin
        self.led = led
        self.serial_in = Signal()
        self.folded = Signal()

    def elaborate(self, platform):
        m = Module()
        m.submodules.block = block = self.block
        inputs, outputs = [], []
        for _path, member, port in block.signature.flatten(block):
            (inputs if member.flow == Flow.In else outputs).append(Value.cast(port))
        width_in = sum(len(p) for p in inputs)
        chain = Signal(max(width_in, 1))
        serial_in = self.serial_in
        if platform is not None and self.data_pin is not None:
            m.submodules.data_pin = pin = io.Buffer("i", platform.request(*self.data_pin, dir="-"))
            m.d.comb += serial_in.eq(pin.i)
        m.d.sync += chain.eq(Cat(serial_in, chain[:-1]))
        offset = 0
        for port in inputs:
            m.d.comb += port.eq(chain[offset:offset + len(port)])
            offset += len(port)
        captured = Signal(max(sum(len(p) for p in outputs), 1))
        m.d.sync += captured.eq(Cat(*outputs))
        m.d.comb += self.folded.eq(fold(m, captured))
        if platform is not None and self.led is not None:
            m.submodules.led = led = io.Buffer("o", platform.request(*self.led, dir="-"))
            m.d.comb += led.o.eq(self.folded)
        return m
