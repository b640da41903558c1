"""A register on each stream of the link's engine port.

``EnginePortRegister()`` sits between the :class:`~fewmul.hw.link.Link` and the engine's
:class:`~fewmul.hw.command_frontend.CommandFrontEnd`. Without it the two state machines were one
combinational path: the front end's state chose an answer byte and its ``last``, the link's
response logic decided on them in the same cycle (the whole ULX3S trainer's critical path in
two of three nextpnr seeds, 14.5-14.9 ns, 11 ns of it routing between the two).

Each stream (``cmd``, ``arg``, ``resp``) goes through an Amaranth
:class:`~amaranth.lib.fifo.SyncFIFOBuffered` of depth 1: a single register whose ``valid`` and
``ready`` are functions of its own fill flag, so no signal crosses it in the cycle it is set.
Latency: one cycle a transfer. Throughput: one transfer every two cycles on each stream, which
the link never exceeds on ``cmd`` and ``arg`` (it fetches each payload byte from its block RAM
first); an answer of ``n`` bytes takes ``2 n`` cycles instead of ``n``, outside the engine's
cycle counters.

Ports
-----
link : In(EnginePortSignature())
    To the link (this side is the target, as an engine is).
engine : Out(EnginePortSignature())
    To the engine's front end (this side is the initiator, as the link is).
"""

from amaranth.hdl import Module, Value
from amaranth.lib import wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from .link import EnginePortSignature

__all__ = ["EnginePortRegister"]


class EnginePortRegister(wiring.Component):
    """One register on each of the engine port's streams (module docstring)."""

    link: In(EnginePortSignature())
    engine: Out(EnginePortSignature())

    def elaborate(self, platform):
        m = Module()
        streams = (("cmd", self.link.cmd, self.engine.cmd),
                   ("arg", self.link.arg, self.engine.arg),
                   ("resp", self.engine.resp, self.link.resp))
        for name, source, sink in streams:
            fifo = SyncFIFOBuffered(width=len(Value.cast(source.payload)), depth=1)
            m.submodules[name] = fifo
            m.d.comb += [
                fifo.w_data.eq(source.payload), fifo.w_en.eq(source.valid),
                source.ready.eq(fifo.w_rdy),
                sink.payload.eq(fifo.r_data), sink.valid.eq(fifo.r_rdy),
                fifo.r_en.eq(sink.ready),
            ]
        return m
