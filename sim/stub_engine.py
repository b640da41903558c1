"""Test stand-in for the training engine behind the host link.

:class:`StubEngine` answers every engine command of ``docs/protocol.md`` with the protocol's
status codes and trivially checkable data, so the link can be tested without the datapath. Its
Python twin is ``fewmul.sim.link_model.LinkModel``.
"""

from amaranth.hdl import Array, Cat, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In

from fewmul.hw.link import EnginePortSignature
from fewmul.protocol import DATA_HEADER_BYTES, SEED_STREAMS, ErrorCode, Opcode

__all__ = ["StubEngine"]


class StubEngine(wiring.Component):
    """Protocol-level stand-in for the training engine (no datapath).

    - RESET: forget the seed, zero the counters; answers OK.
    - SEED: payload must be ``4 * SEED_STREAMS`` bytes (else BAD_LENGTH) with no zero state
      (else BAD_ARG); marks the engine seeded.
    - TRAIN: payload ``label, sample`` of ``1 + sample_bytes`` bytes (else BAD_LENGTH); BAD_STATE
      unless seeded; BAD_ARG if ``label >= n_classes``; answers one byte, the sum of the sample
      bytes mod 256, and counts a step.
    - PREDICT: payload ``sample`` of ``sample_bytes`` (else BAD_LENGTH); answers the same sum
      and counts a prediction.
    - COUNTERS: empty payload (else BAD_LENGTH); answers steps and predictions, LE32 each.
    - DATA: BAD_LENGTH unless ``4 + count * (1 + sample_bytes)`` bytes with ``count >= 1``
      (the link leaves DATA's length to the engine), else BAD_ARG (no data set).
    - LR, EPOCH (and anything else): BAD_ARG (the stub has no learning rate, no data set).

    The link refuses wrong lengths of RESET, SEED, COUNTERS and LR before they get here; the
    stub checks SEED's and COUNTERS' again, as an engine may.
    """

    def __init__(self, *, sample_bytes, n_classes):
        self._sample_bytes = sample_bytes
        self._n_classes = n_classes
        super().__init__({"engine": In(EnginePortSignature())})

    def elaborate(self, platform):
        m = Module()
        cmd, arg, resp = self.engine.cmd, self.engine.arg, self.engine.resp
        opcode = Signal(8)
        length = Signal(16)
        index = Signal(16)
        total = Signal(8)
        label = Signal(8)
        word_or = Signal(8)
        zero_word = Signal()
        seeded = Signal()
        steps = Signal(32)
        predictions = Signal(32)
        status = Signal(8)
        answer = Signal(8)
        answer_length = Signal(4)
        records = Signal(16)                            # DATA's count (payload bytes 2 and 3)

        with m.FSM(name="stub_engine") as fsm:
            with m.State("IDLE"):
                with m.If(cmd.valid):
                    m.d.sync += [opcode.eq(cmd.payload.opcode), length.eq(cmd.payload.length),
                                 index.eq(0), total.eq(0), label.eq(0), word_or.eq(0),
                                 zero_word.eq(0)]
                    with m.If(cmd.payload.length == 0):
                        m.next = "EXECUTE"
                    with m.Else():
                        m.next = "ARGUMENT"
            with m.State("ARGUMENT"):
                with m.If(arg.valid):
                    byte = arg.payload
                    m.d.sync += [total.eq(total + byte), index.eq(index + 1),
                                 word_or.eq(word_or | byte)]
                    with m.If(index == 0):
                        m.d.sync += label.eq(byte)
                    with m.If(index == 2):
                        m.d.sync += records[:8].eq(byte)
                    with m.If(index == 3):
                        m.d.sync += records[8:].eq(byte)
                    with m.If(index[:2] == 3):
                        m.d.sync += word_or.eq(0)
                        with m.If((word_or | byte) == 0):
                            m.d.sync += zero_word.eq(1)
                    with m.If(index == length - 1):
                        m.next = "EXECUTE"
            with m.State("EXECUTE"):
                m.d.sync += [status.eq(ErrorCode.OK), answer_length.eq(0), index.eq(0)]
                m.next = "ANSWER"

                def fail(code):
                    m.d.sync += status.eq(code)

                with m.Switch(opcode):
                    with m.Case(Opcode.RESET):
                        m.d.sync += [seeded.eq(0), steps.eq(0), predictions.eq(0)]
                    with m.Case(Opcode.SEED):
                        with m.If(length != 4 * SEED_STREAMS):
                            fail(ErrorCode.BAD_LENGTH)
                        with m.Elif(zero_word):
                            fail(ErrorCode.BAD_ARG)
                        with m.Else():
                            m.d.sync += seeded.eq(1)
                    with m.Case(Opcode.TRAIN):
                        with m.If(length != self._sample_bytes + 1):
                            fail(ErrorCode.BAD_LENGTH)
                        with m.Elif(~seeded):
                            fail(ErrorCode.BAD_STATE)
                        with m.Elif(label >= self._n_classes):
                            fail(ErrorCode.BAD_ARG)
                        with m.Else():
                            m.d.sync += [steps.eq(steps + 1), answer.eq(total - label),
                                         answer_length.eq(1)]
                    with m.Case(Opcode.PREDICT):
                        with m.If(length != self._sample_bytes):
                            fail(ErrorCode.BAD_LENGTH)
                        with m.Else():
                            m.d.sync += [predictions.eq(predictions + 1), answer.eq(total),
                                         answer_length.eq(1)]
                    with m.Case(Opcode.COUNTERS):
                        with m.If(length != 0):
                            fail(ErrorCode.BAD_LENGTH)
                        with m.Else():
                            m.d.sync += [answer.eq(steps[:8]), answer_length.eq(8)]
                    with m.Case(Opcode.DATA):
                        # the link leaves DATA's length to the engine: records of 1 + sample
                        with m.If((length < DATA_HEADER_BYTES) | (records == 0)
                                  | (length != DATA_HEADER_BYTES
                                     + records * (1 + self._sample_bytes))):
                            fail(ErrorCode.BAD_LENGTH)
                        with m.Else():
                            fail(ErrorCode.BAD_ARG)                 # the stub has no data set
                    with m.Default():
                        fail(ErrorCode.BAD_ARG)
            with m.State("ANSWER"):
                counters = Cat(steps, predictions)
                data_bytes = [answer] + [counters[8 * k:8 * k + 8] for k in range(1, 8)]
                m.d.comb += [
                    resp.payload.data.eq(Array([status] + data_bytes)[index]),
                    resp.payload.last.eq((index == answer_length) | (status != ErrorCode.OK)),
                ]
                with m.If(resp.ready):
                    m.d.sync += index.eq(index + 1)
                    with m.If(resp.payload.last):
                        m.next = "IDLE"
        # plain functions of the state: see the note in fewmul.hw.link (Icarus and `always @*`)
        m.d.comb += [cmd.ready.eq(fsm.ongoing("IDLE")), arg.ready.eq(fsm.ongoing("ARGUMENT")),
                     resp.valid.eq(fsm.ongoing("ANSWER"))]
        return m
