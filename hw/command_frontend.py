"""The engine's command front-end: protocol commands in, sequencer steps out, answers back.

``CommandFrontEnd(cfg)`` is the target of the link's engine port (``docs/protocol.md`` section
6): per command it takes the opcode and length, the argument bytes, checks them, runs the
command, and answers a status byte and the payload (``docs/engine.md``):

- RESET (empty): counters to 0, the seed forgotten, learning rate back to ``2^-lr_shift``,
  stochastic signs in training;
- SEED (five LE32 xorshift32 states, none 0): loads the draw unit's streams;
- LR (one byte: the learning-rate shift, in ``cfg.lr_shifts``, in bits 0-6; bit 7
  ``fewmul.protocol.LR_DETERMINISTIC``: train with deterministic signs, the settling phase):
  the learning rate and sign mode of the following TRAIN and EPOCH steps;
- TRAIN (``label, x[0 .. N0-1]``, after SEED, ``label < classes``): one step; answers the class
  of the step's forward pass;
- PREDICT (``x[0 .. N0-1]``): deterministic signs; answers the class and the scores (LE16);
- COUNTERS (empty): ``steps, predictions, cycles, clips0 .. clips{L-1}``, LE32 each;
- DATA (``address, count`` LE16 each, then ``count`` records ``label, x[0 .. N0-1]``): samples
  ``address ..`` of the on-chip data set (no gap after the samples loaded, at most ``capacity``;
  at most ``spare`` records a frame); staged, then copied in only when every record is good;
- EPOCH (``size, count`` LE16, ``key`` LE32, after SEED and DATA): trains the first ``count``
  samples of ``fewmul.golden.order.epoch_order(size, key)`` over the data set's first
  ``size`` (``count <= size <= loaded``), each exactly a TRAIN; answers ``correct`` (steps whose
  class was the label), ``cycles`` of the command, and the ``clips`` of each layer during it
  (LE32 each).

A wrong length answers BAD_LENGTH (DATA also for ``count`` 0 or above ``spare``), TRAIN or
EPOCH before SEED and EPOCH before any DATA BAD_STATE, DATA beyond the loaded samples or the
capacity BAD_ADDRESS, an argument out of range (label, seed, learning rate, EPOCH's size and
count) BAD_ARG; nothing is executed then (the sample bytes land in the network's input words, which
only a step reads). ``cycles`` counts the clock cycles of TRAIN commands from the command to
the answer.
"""

from amaranth.hdl import Array, Cat, Module, Mux, Signal, signed
from amaranth.lib.wiring import In, Out

from fewmul.protocol import SEED_STREAMS, ErrorCode, Opcode

from ._checks import ConfigComponent, refusable
from .link import EnginePortSignature
from .order_unit import OrderUnit

__all__ = ["CommandFrontEnd", "COUNTER_NAMES", "counter_names"]

#: Words of a COUNTERS answer (LE32 each), in order; then one ``clips`` word per layer.
COUNTER_NAMES = ("steps", "predictions", "cycles")


def counter_names(cfg):
    """Every word of the engine's COUNTERS answer for ``cfg``, in order."""
    return COUNTER_NAMES + tuple(f"clips{layer}" for layer in range(cfg.n_layers))


class CommandFrontEnd(ConfigComponent):
    """Protocol commands to sequencer steps (see the module docstring).

    Parameters
    ----------
    cfg : fewmul.config.Config
    capacity, spare : int
        Sample slots of the :class:`~fewmul.hw.data_store.DataStore` (data set, then frames).

    Ports
    -----
    engine : In(fewmul.hw.link.EnginePortSignature())
        From the link.
    busy : Out(1)
        A command is being received, executed or answered.
    step_start, step_predict, step_label, lr_offset : Out ; step_busy, step_done, step_answer : In
        The sequencer's step interface.
    settle : Out(1)
        Train with deterministic signs (the LR byte's bit 7; 0 after reset and RESET).
    sample_slot : Out
        The data store slot of the step's sample.
    write_*, label_*, copy_*, label_read* : the data store
    score_index : Out ; score : In(signed(out_bits))
        PREDICT's scores (combinational read).
    clips : In(32).array(L) ; clear_clips : Out(1)
    seed_load : Out(1), seed : Out(32 * 5), clear_draws : Out(1)
        The draw unit.
    """

    @refusable
    def __init__(self, cfg, *, capacity, spare):
        self._capacity, self._spare = capacity, spare
        super().__init__(cfg)

    def members(self, cfg):
        slot = range(max(self._capacity + self._spare, 2))
        return {
            "engine": In(EnginePortSignature()),
            "busy": Out(1),
            "step_start": Out(1),
            "step_predict": Out(1),
            "step_label": Out(8),
            "lr_offset": Out(range(cfg.lr_range + 1)),
            "settle": Out(1),
            "step_busy": In(1),
            "step_done": In(1),
            "step_answer": In(8),
            "sample_slot": Out(slot),
            "write_en": Out(1),
            "write_slot": Out(slot),
            "write_element": Out(range(max(cfg.layers[0], 2))),
            "write_value": Out(signed(cfg.act_bits)),
            "label_en": Out(1),
            "label_slot": Out(slot),
            "label_value": Out(8),
            "copy_start": Out(1),
            "copy_from": Out(slot),
            "copy_to": Out(slot),
            "copy_count": Out(slot),
            "copy_busy": In(1),
            "label_read_slot": Out(slot),
            "label_read": In(8),
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
        n_in, classes, layers = cfg.layers[0], cfg.layers[-1], cfg.n_layers
        capacity, spare = self._capacity, self._spare
        m.submodules.order = order = OrderUnit(max(capacity, 1))
        opcode = Signal(8)
        length = Signal(16)
        index = Signal(16)
        label = Signal(8)
        arg_bits = Signal(32 * SEED_STREAMS)                 # the last argument bytes
        seeded = Signal()
        status = Signal(8)
        answer = Signal(8)
        answer_length = Signal(16)
        steps = Signal(32)
        predictions = Signal(32)
        cycles = Signal(32)
        lr_offset = Signal.like(self.lr_offset)
        settle = Signal()
        loaded = Signal(range(capacity + 1))                # samples of the data set
        m.d.comb += [self.lr_offset.eq(lr_offset), self.settle.eq(settle),
                     self.seed.eq(arg_bits),
                     self.step_label.eq(label)]

        # -- the argument: sample bytes and DATA records go to spare slots as they arrive -----
        record_pos = Signal(range(n_in + 1))                 # byte of the current record
        record = Signal(16)                                  # records complete
        bad_label = Signal()
        element = Signal(16)
        is_data = opcode == Opcode.DATA
        m.d.comb += [self.write_value.eq(eng.arg.payload), self.label_value.eq(eng.arg.payload)]

        # -- EPOCH state -------------------------------------------------------------------------
        correct = Signal(32)
        epoch_cycles = Signal(32)
        remaining = Signal(16)
        clips_start = [Signal(32, name=f"clips_start_{k}") for k in range(layers)]
        epoch = Signal()                                     # the step belongs to an EPOCH
        slot = Signal.like(self.sample_slot)                 # the EPOCH step's sample

        def finish(length_=0):
            m.d.sync += [status.eq(ErrorCode.OK), answer_length.eq(length_), index.eq(0)]
            m.next = "ANSWER"

        def fail(code):
            m.d.sync += [status.eq(code), answer_length.eq(0), index.eq(0)]
            m.next = "ANSWER"

        def field(offset, width):
            """Bits of the argument's last bytes: byte ``offset`` of an 8-byte argument."""
            low = 32 * SEED_STREAMS - 64 + 8 * offset
            return arg_bits[low:low + width]

        states_nonzero = Cat(*(arg_bits[32 * s:32 * s + 32] != 0 for s in range(SEED_STREAMS)))
        data_address, data_count = field(4, 16), field(6, 16)            # 4-byte argument
        epoch_size, epoch_count, epoch_key = field(0, 16), field(2, 16), field(4, 32)
        # The argument's checks, registered in the CHECK cycle before EXECUTE (the argument and
        # what they compare with are stable then; deciding them in EXECUTE straight from the
        # payload bits was the ULX3S trainer's critical path).
        data_bad_length, data_bad_address, data_grows = Signal(), Signal(), Signal()
        data_end = Signal(17)
        epoch_bad_arg, lr_bad, seed_bad, label_bad = Signal(), Signal(), Signal(), Signal()
        lr_byte = arg_bits[-8:-1]                # LR: bits 0-6 the shift, bit 7 settle

        # A DATA record's label is range-checked one cycle after it arrives, from a register
        # (the byte comes from the link's block RAM, whose output is slow; the record's pixels
        # follow, so the flag is set long before CHECK)
        label_check = Signal()
        label_byte = Signal(8)
        m.d.sync += [label_check.eq(0), label_byte.eq(eng.arg.payload)]
        with m.If(label_check & (label_byte >= classes)):
            m.d.sync += bad_label.eq(1)

        with m.FSM(name="frontend") as fsm:
            with m.State("IDLE"):
                with m.If(eng.cmd.valid):
                    m.d.sync += [opcode.eq(eng.cmd.payload.opcode), record_pos.eq(0),
                                 record.eq(0), bad_label.eq(0),
                                 length.eq(eng.cmd.payload.length), index.eq(0)]
                    with m.If(eng.cmd.payload.length == 0):
                        m.next = "CHECK"
                    with m.Else():
                        m.next = "ARGUMENT"

            with m.State("ARGUMENT"):
                with m.If(eng.arg.valid):
                    byte = eng.arg.payload
                    with m.If(~is_data | (index < 4)):
                        m.d.sync += arg_bits.eq(Cat(arg_bits[8:], byte))
                    m.d.sync += index.eq(index + 1)
                    with m.If((opcode == Opcode.TRAIN) & (index == 0)):
                        m.d.sync += label.eq(byte)
                    m.d.comb += element.eq(index - (opcode == Opcode.TRAIN))
                    is_sample = (((opcode == Opcode.TRAIN) & (index != 0))
                                 | (opcode == Opcode.PREDICT))
                    with m.If(is_sample):
                        m.d.comb += [self.write_en.eq(element < n_in),
                                     self.write_slot.eq(capacity), self.write_element.eq(element)]
                    with m.If(is_data & (index >= 4)):
                        staged = record < spare
                        with m.If(record_pos == 0):
                            m.d.comb += [self.label_en.eq(staged),
                                         self.label_slot.eq(capacity + record)]
                            m.d.sync += label_check.eq(1)
                        with m.Else():
                            m.d.comb += [self.write_en.eq(staged),
                                         self.write_slot.eq(capacity + record),
                                         self.write_element.eq(record_pos - 1)]
                        m.d.sync += record_pos.eq(record_pos + 1)
                        with m.If(record_pos == n_in):
                            m.d.sync += [record_pos.eq(0), record.eq(record + 1)]
                    with m.If(index == length - 1):
                        m.next = "CHECK"

            with m.State("CHECK"):
                m.d.sync += [
                    data_bad_length.eq((length < 4) | (record_pos != 0) | (record != data_count)
                                       | (data_count == 0) | (data_count > spare)),
                    data_end.eq(data_address + data_count),
                    data_bad_address.eq((data_address > loaded)
                                        | (data_address + data_count > capacity)),
                    data_grows.eq(data_address + data_count > loaded),
                    epoch_bad_arg.eq((epoch_size == 0) | (epoch_size > loaded)
                                     | (epoch_count == 0) | (epoch_count > epoch_size)),
                    lr_bad.eq((lr_byte < cfg.lr_shift) | (lr_byte > cfg.lr_shift + cfg.lr_range)),
                    seed_bad.eq(~states_nonzero.all()),
                    label_bad.eq(label >= classes),
                ]
                m.next = "EXECUTE"

            with m.State("EXECUTE"):
                with m.Switch(opcode):
                    with m.Case(Opcode.RESET):
                        with m.If(length != 0):
                            fail(ErrorCode.BAD_LENGTH)
                        with m.Else():
                            m.d.sync += [seeded.eq(0), steps.eq(0), predictions.eq(0),
                                         cycles.eq(0), lr_offset.eq(0), settle.eq(0)]
                            m.d.comb += [self.clear_clips.eq(1), self.clear_draws.eq(1)]
                            finish()
                    with m.Case(Opcode.LR):
                        with m.If(length != 1):
                            fail(ErrorCode.BAD_LENGTH)
                        with m.Elif(lr_bad):
                            fail(ErrorCode.BAD_ARG)
                        with m.Else():
                            m.d.sync += [lr_offset.eq(lr_byte - cfg.lr_shift),
                                         settle.eq(arg_bits[-1])]
                            finish()
                    with m.Case(Opcode.SEED):
                        with m.If(length != 4 * SEED_STREAMS):
                            fail(ErrorCode.BAD_LENGTH)
                        with m.Elif(seed_bad):
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
                        with m.Elif(label_bad):
                            fail(ErrorCode.BAD_ARG)
                        with m.Else():
                            m.d.comb += [self.step_start.eq(1), self.sample_slot.eq(capacity)]
                            m.d.sync += epoch.eq(0)
                            m.next = "STEP"
                    with m.Case(Opcode.PREDICT):
                        with m.If(length != n_in):
                            fail(ErrorCode.BAD_LENGTH)
                        with m.Else():
                            m.d.comb += [self.step_start.eq(1), self.step_predict.eq(1),
                                         self.sample_slot.eq(capacity)]
                            m.next = "PREDICT"
                    with m.Case(Opcode.COUNTERS):
                        with m.If(length != 0):
                            fail(ErrorCode.BAD_LENGTH)
                        with m.Else():
                            finish(4 * len(counter_names(cfg)))
                    with m.Case(Opcode.DATA):
                        with m.If(data_bad_length):
                            fail(ErrorCode.BAD_LENGTH)
                        with m.Elif(data_bad_address):
                            fail(ErrorCode.BAD_ADDRESS)
                        with m.Elif(bad_label):
                            fail(ErrorCode.BAD_ARG)
                        with m.Else():
                            m.d.comb += [self.copy_start.eq(1), self.copy_from.eq(capacity),
                                         self.copy_to.eq(data_address),
                                         self.copy_count.eq(data_count)]
                            with m.If(data_grows):
                                m.d.sync += loaded.eq(data_end)
                            m.next = "COPY"
                    with m.Case(Opcode.EPOCH):
                        with m.If(length != 8):
                            fail(ErrorCode.BAD_LENGTH)
                        with m.Elif(~seeded | (loaded == 0)):
                            fail(ErrorCode.BAD_STATE)
                        with m.Elif(epoch_bad_arg):
                            fail(ErrorCode.BAD_ARG)
                        with m.Else():
                            m.d.comb += [order.start.eq(1), order.size.eq(epoch_size),
                                         order.key.eq(epoch_key)]
                            m.d.sync += [correct.eq(0), epoch_cycles.eq(0), epoch.eq(1),
                                         remaining.eq(epoch_count)]
                            m.d.sync += [clips_start[k].eq(self.clips[k]) for k in range(layers)]
                            m.next = "EPOCH_NEXT"
                    with m.Default():
                        fail(ErrorCode.BAD_ARG)

            with m.State("COPY"):
                with m.If(~self.copy_busy):
                    finish()

            with m.State("EPOCH_NEXT"):                     # the next sample's index
                m.d.comb += self.label_read_slot.eq(order.index)
                with m.If(order.valid):
                    m.d.comb += order.next.eq(1)
                    m.d.sync += slot.eq(order.index)
                    m.next = "EPOCH_LABEL"
            with m.State("EPOCH_LABEL"):                    # its label, read meanwhile
                m.d.comb += [self.step_start.eq(1), self.sample_slot.eq(slot),
                             self.step_label.eq(self.label_read)]
                m.d.sync += label.eq(self.label_read)
                m.next = "STEP"

            with m.State("STEP"):
                with m.If(self.step_done):
                    m.d.sync += [answer.eq(self.step_answer), steps.eq(steps + 1)]
                    with m.If(~epoch):
                        finish(1)
                    with m.Else():
                        m.d.sync += [correct.eq(correct + (self.step_answer == label)),
                                     remaining.eq(remaining - 1)]
                        with m.If(remaining == 1):
                            finish(4 * (2 + layers))
                        with m.Else():
                            m.next = "EPOCH_NEXT"

            with m.State("PREDICT"):
                with m.If(self.step_done):
                    m.d.sync += [answer.eq(self.step_answer), predictions.eq(predictions + 1)]
                    finish(1 + 2 * classes)

            with m.State("ANSWER"):
                counter_bytes = Cat(steps, predictions, cycles, *self.clips)
                # each difference truncated to its LE32 field (a subtraction is 33 bits wide:
                # uncut, every later layer's count would come out shifted left by one more bit)
                epoch_bytes = Cat(correct, epoch_cycles,
                                  *((self.clips[k] - clips_start[k])[:32] for k in range(layers)))
                score_k = Signal(16)
                m.d.comb += [score_k.eq(index - 2), self.score_index.eq(score_k >> 1)]
                score16 = Signal(signed(16))                  # LE16, sign-extended
                m.d.comb += score16.eq(self.score)
                score_byte = Mux(score_k[0], score16[8:], score16[:8])

                def byte_table(value, count):
                    return Array([status] + [value[8 * b:8 * b + 8] for b in range(count)])

                with m.Switch(opcode):
                    with m.Case(Opcode.COUNTERS):
                        m.d.comb += eng.resp.payload.data.eq(
                            byte_table(counter_bytes, 4 * len(counter_names(cfg)))[index])
                    with m.Case(Opcode.EPOCH):
                        m.d.comb += eng.resp.payload.data.eq(
                            byte_table(epoch_bytes, 4 * (2 + layers))[index])
                    with m.Default():
                        m.d.comb += eng.resp.payload.data.eq(
                            Mux(index == 0, status, Mux(index == 1, answer, score_byte)))
                m.d.comb += eng.resp.payload.last.eq((index == answer_length)
                                                     | (status != ErrorCode.OK))
                with m.If(eng.resp.ready):
                    m.d.sync += index.eq(index + 1)
                    with m.If(eng.resp.payload.last):
                        m.next = "IDLE"

        counting = fsm.ongoing("STEP") | fsm.ongoing("EPOCH_NEXT") | fsm.ongoing("EPOCH_LABEL")
        with m.If(counting):
            m.d.sync += [cycles.eq(cycles + 1), epoch_cycles.eq(epoch_cycles + 1)]
        # handshakes as plain functions of the state (see the Icarus note in fewmul.hw.link)
        m.d.comb += [eng.cmd.ready.eq(fsm.ongoing("IDLE")),
                     eng.arg.ready.eq(fsm.ongoing("ARGUMENT")),
                     eng.resp.valid.eq(fsm.ongoing("ANSWER")),
                     self.busy.eq(~fsm.ongoing("IDLE"))]
        return m
