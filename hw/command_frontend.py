"""The engine's command front-end: protocol commands in, sequencer steps out, answers back.

``CommandFrontEnd(cfg)`` is the target of the link's engine port (``docs/protocol.md`` section
6): per command it takes the opcode and length, the argument bytes, checks them, runs the
command, and answers a status byte and the payload (``docs/engine.md``):

- RESET (empty): counters to 0, the seed forgotten, learning rate back to ``2^-lr_shift``;
- SEED (five LE32 xorshift32 states, none 0): loads the draw unit's streams;
- LR (one byte in ``cfg.lr_shifts``): the learning-rate shift of the following TRAINs;
- TRAIN (``label, x[0 .. N0-1]``, after SEED, ``label < classes``): one step; answers the class
  of the step's forward pass;
- PREDICT (``x[0 .. N0-1]``): deterministic signs; answers the class and the scores (LE16);
- COUNTERS (empty): ``steps, predictions, cycles, clips0 .. clips{L-1}``, LE32 each.

A wrong length answers BAD_LENGTH, TRAIN before SEED BAD_STATE, an argument out of range
BAD_ARG; nothing is executed then (the sample bytes land in the network's input words, which
only a step reads). ``cycles`` counts the clock cycles of TRAIN commands from the command to
the answer.
"""

from amaranth.hdl import Array, Cat, Module, Mux, Signal, signed
from amaranth.lib.wiring import In, Out

from fewmul.host import SEED_STREAMS, ErrorCode, Opcode

from ._checks import ConfigComponent
from .link import engine_signature

__all__ = ["CommandFrontEnd", "COUNTER_NAMES", "counter_names"]

#: Words of a COUNTERS answer (LE32 each), in order; then one ``clips`` word per layer.
COUNTER_NAMES = ("steps", "predictions", "cycles")


def counter_names(cfg):
    """Every word of the engine's COUNTERS answer for ``cfg``, in order."""
    return COUNTER_NAMES + tuple(f"clips{layer}" for layer in range(cfg.n_layers))


class CommandFrontEnd(ConfigComponent):
    """Protocol commands to sequencer steps (see the module docstring).

    Ports
    -----
    engine : In(fewmul.hw.link.engine_signature())
        From the link.
    busy : Out(1)
        A command is being received, executed or answered.
    step_start, step_predict, step_label, lr_offset : Out ; step_busy, step_done, step_answer : In
        The sequencer's step interface.
    sample_en, sample_index, sample_value : Out
        Argument bytes of TRAIN / PREDICT into the network's input words.
    score_index : Out ; score : In(signed(out_bits))
        PREDICT's scores (combinational read).
    clips : In(32).array(L) ; clear_clips : Out(1)
    seed_load : Out(1), seed : Out(32 * 5), clear_draws : Out(1)
        The draw unit.
    """

    def members(self, cfg):
        return {
            "engine": In(engine_signature()),
            "busy": Out(1),
            "step_start": Out(1),
            "step_predict": Out(1),
            "step_label": Out(8),
            "lr_offset": Out(range(cfg.lr_range + 1)),
            "step_busy": In(1),
            "step_done": In(1),
            "step_answer": In(8),
            "sample_en": Out(1),
            "sample_index": Out(range(max(cfg.layers[0], 2))),
            "sample_value": Out(signed(cfg.act_bits)),
            "score_index": Out(range(max(cfg.layers[-1], 2))),
            "score": In(signed(cfg.out_bits)),
            "clips": In(32).array(cfg.n_layers),
            "clear_clips": Out(1),
            "seed_load": Out(1),
            "seed": Out(32 * SEED_STREAMS),
            "clear_draws": Out(1),
        }

    def elaborate(self, platform):
        cfg = self._cfg
        m = Module()
        eng = self.engine
        n_in, classes = cfg.layers[0], cfg.layers[-1]
        opcode = Signal(8)
        length = Signal(16)
        index = Signal(16)
        label = Signal(8)
        arg_bits = Signal(32 * SEED_STREAMS)                 # the last argument bytes
        seeded = Signal()
        training = Signal()
        status = Signal(8)
        answer = Signal(8)
        answer_length = Signal(16)
        steps = Signal(32)
        predictions = Signal(32)
        cycles = Signal(32)
        lr_offset = Signal.like(self.lr_offset)
        m.d.comb += [self.lr_offset.eq(lr_offset), self.step_label.eq(label),
                     self.seed.eq(arg_bits)]
        with m.If(training & self.step_busy):
            m.d.sync += cycles.eq(cycles + 1)

        def finish(length_=0):
            m.d.sync += [status.eq(ErrorCode.OK), answer_length.eq(length_), index.eq(0)]
            m.next = "ANSWER"

        def fail(code):
            m.d.sync += [status.eq(code), answer_length.eq(0), index.eq(0)]
            m.next = "ANSWER"

        states_nonzero = Cat(*(arg_bits[32 * s:32 * s + 32] != 0 for s in range(SEED_STREAMS)))
        with m.FSM(name="frontend") as fsm:
            with m.State("IDLE"):
                with m.If(eng.cmd.valid):
                    m.d.sync += [opcode.eq(eng.cmd.payload.opcode),
                                 length.eq(eng.cmd.payload.length), index.eq(0)]
                    with m.If(eng.cmd.payload.length == 0):
                        m.next = "EXECUTE"
                    with m.Else():
                        m.next = "ARGUMENT"

            with m.State("ARGUMENT"):
                with m.If(eng.arg.valid):
                    byte = eng.arg.payload
                    m.d.sync += [arg_bits.eq(Cat(arg_bits[8:], byte)), index.eq(index + 1)]
                    with m.If((opcode == Opcode.TRAIN) & (index == 0)):
                        m.d.sync += label.eq(byte)
                    element = Signal(16)
                    m.d.comb += element.eq(index - (opcode == Opcode.TRAIN))
                    is_sample = (((opcode == Opcode.TRAIN) & (index != 0))
                                 | (opcode == Opcode.PREDICT))
                    m.d.comb += [self.sample_en.eq(is_sample & (element < n_in)),
                                 self.sample_index.eq(element), self.sample_value.eq(byte)]
                    with m.If(index == length - 1):
                        m.next = "EXECUTE"

            with m.State("EXECUTE"):
                with m.Switch(opcode):
                    with m.Case(Opcode.RESET):
                        with m.If(length != 0):
                            fail(ErrorCode.BAD_LENGTH)
                        with m.Else():
                            m.d.sync += [seeded.eq(0), steps.eq(0), predictions.eq(0),
                                         cycles.eq(0), lr_offset.eq(0)]
                            m.d.comb += [self.clear_clips.eq(1), self.clear_draws.eq(1)]
                            finish()
                    with m.Case(Opcode.LR):
                        lr_byte = arg_bits[-8:]
                        with m.If(length != 1):
                            fail(ErrorCode.BAD_LENGTH)
                        with m.Elif((lr_byte < cfg.lr_shift)
                                    | (lr_byte > cfg.lr_shift + cfg.lr_range)):
                            fail(ErrorCode.BAD_ARG)
                        with m.Else():
                            m.d.sync += lr_offset.eq(lr_byte - cfg.lr_shift)
                            finish()
                    with m.Case(Opcode.SEED):
                        with m.If(length != 4 * SEED_STREAMS):
                            fail(ErrorCode.BAD_LENGTH)
                        with m.Elif(~states_nonzero.all()):
                            fail(ErrorCode.BAD_ARG)
                        with m.Else():
                            m.d.comb += self.seed_load.eq(1)
                            m.d.sync += seeded.eq(1)
                            finish()
                    with m.Case(Opcode.TRAIN):
                        with m.If(length != n_in + 1):
                            fail(ErrorCode.BAD_LENGTH)
                        with m.Elif(~seeded):
                            fail(ErrorCode.BAD_STATE)
                        with m.Elif(label >= classes):
                            fail(ErrorCode.BAD_ARG)
                        with m.Else():
                            m.d.comb += [self.step_start.eq(1), self.step_predict.eq(0)]
                            m.d.sync += training.eq(1)
                            m.next = "STEP"
                    with m.Case(Opcode.PREDICT):
                        with m.If(length != n_in):
                            fail(ErrorCode.BAD_LENGTH)
                        with m.Else():
                            m.d.comb += [self.step_start.eq(1), self.step_predict.eq(1)]
                            m.d.sync += training.eq(0)
                            m.next = "STEP"
                    with m.Case(Opcode.COUNTERS):
                        with m.If(length != 0):
                            fail(ErrorCode.BAD_LENGTH)
                        with m.Else():
                            finish(4 * len(counter_names(cfg)))
                    with m.Default():
                        fail(ErrorCode.BAD_ARG)

            with m.State("STEP"):
                with m.If(self.step_done):
                    m.d.sync += answer.eq(self.step_answer)
                    with m.If(training):
                        m.d.sync += [steps.eq(steps + 1), training.eq(0)]
                        finish(1)
                    with m.Else():
                        m.d.sync += predictions.eq(predictions + 1)
                        finish(1 + 2 * classes)

            with m.State("ANSWER"):
                counter_bytes = Cat(steps, predictions, cycles, *self.clips)
                score_k = Signal(16)
                m.d.comb += [score_k.eq(index - 2), self.score_index.eq(score_k >> 1)]
                score16 = Signal(signed(16))                  # LE16, sign-extended
                m.d.comb += score16.eq(self.score)
                score_byte = Mux(score_k[0], score16[8:], score16[:8])
                with m.If(opcode == Opcode.COUNTERS):
                    m.d.comb += eng.resp.payload.data.eq(
                        Array([status] + [counter_bytes[8 * b:8 * b + 8]
                                          for b in range(4 * len(counter_names(cfg)))])[index])
                with m.Else():
                    m.d.comb += eng.resp.payload.data.eq(
                        Mux(index == 0, status, Mux(index == 1, answer, score_byte)))
                m.d.comb += eng.resp.payload.last.eq((index == answer_length)
                                                     | (status != ErrorCode.OK))
                with m.If(eng.resp.ready):
                    m.d.sync += index.eq(index + 1)
                    with m.If(eng.resp.payload.last):
                        m.next = "IDLE"

        # handshakes as plain functions of the state (see the Icarus note in fewmul.hw.link)
        m.d.comb += [eng.cmd.ready.eq(fsm.ongoing("IDLE")),
                     eng.arg.ready.eq(fsm.ongoing("ARGUMENT")),
                     eng.resp.valid.eq(fsm.ongoing("ANSWER")),
                     self.busy.eq(~fsm.ongoing("IDLE"))]
        return m
