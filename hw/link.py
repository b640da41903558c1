"""Host link: frame receiver, command decoder and frame transmitter (``docs/protocol.md``).

:class:`Link` sits between a byte stream from the host (a :class:`fewmul.hw.uart.UARTRx`) and a
byte stream back (a :class:`fewmul.hw.uart.UARTTx`). It serves PING, LOAD, READ and STATUS
itself through a word-addressed memory port (:class:`MemoryPortSignature`) and forwards RESET,
SEED, TRAIN, PREDICT, COUNTERS and LR to an engine through :class:`EnginePortSignature`.
Opcodes, error codes, framing, the CRC and the legal request lengths come from
:mod:`fewmul.protocol`, which the host driver imports too, so the two sides cannot disagree.

Design: one FSM, stop-and-wait. A frame is received whole into a payload buffer (a
``lib.memory.Memory`` of ``max_payload`` bytes) and checked (CRC, opcode, length against
``fewmul.protocol``'s table, region, address) before anything is executed, so a malformed frame
never touches the memory or the engine. The response is then built (READ words and engine
answers go into the same buffer) and sent with its CRC computed on the fly. One
``amaranth.lib.crc`` processor (CRC-16/CCITT-FALSE, ``fewmul.protocol.FRAME_CRC``) checks the
request and then signs the response: stop-and-wait, the two never overlap. The input is always
ready: bytes that arrive while the link executes or answers are counted (``DROPPED_BYTES``) and
discarded, so a misbehaving host can never stall the UART. Every frame that starts with SYNC gets
exactly one response:

- complete frame: one OK or error response;
- line idle for ``timeout_cycles`` inside a frame: ``TIMEOUT``;
- length above ``max_payload``: the rest is discarded until the line is idle for
  ``timeout_cycles``, then ``OVERSIZE`` (its end cannot be found, so no resynchronisation is
  attempted inside it).
"""

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from fewmul.protocol import (
    ERROR_OPCODE,
    FIXED_REQUEST_LENGTHS,
    FRAME_CRC,
    MEMORY_HEADER_BYTES,
    N_COUNTERS,
    RESPONSE_FLAG,
    SYNC,
    VERSION,
    Counter,
    ErrorCode,
    Opcode,
    PingInfo,
    request_length,
    word_bytes,
)

from ._checks import refusable

__all__ = ["Link", "MemoryPortSignature", "EnginePortSignature", "MemoryCommand",
           "EngineCommand", "EngineResponse", "ADDRESS_BITS"]

#: Width of a word address inside a region (the frames' LE16 address field).
ADDRESS_BITS = 16


def _check_int(name, value, lo, hi):
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ValueError(f"{name} must be an integer in [{lo}, {hi}], not {value!r}")


class MemoryCommand(data.StructLayout):
    """Payload of the memory port's ``cmd`` stream: one word write, or a read of one word.

    Members
    -------
    write : 1
        1: write ``data`` at ``address`` of ``region``; 0: read that word.
    region : range(n_regions)
        The frames' "layer" field (at least 1 bit).
    address : ADDRESS_BITS
        Word address inside the region.
    data : word_bits
        The word to write (ignored by a read).
    """

    def __init__(self, *, word_bits, n_regions):
        _check_int("word_bits", word_bits, 1, 32)
        _check_int("n_regions", n_regions, 1, 255)
        super().__init__({
            "write": 1,
            "region": max(1, (n_regions - 1).bit_length()),
            "address": ADDRESS_BITS,
            "data": word_bits,
        })


class MemoryPortSignature(wiring.Signature):
    """The link's memory port, seen from the link (the initiator; a target uses ``.flip()``).

    Parameters
    ----------
    word_bits : int
        Width of a memory word.
    n_regions : int
        Number of regions (the frames' "layer" field).

    Members
    -------
    cmd : Out(stream.Signature(MemoryCommand(word_bits=word_bits, n_regions=n_regions)))
        One command per transfer. A read command (``write == 0``) is answered by exactly one
        word on ``rdata``, in order, after any latency; a write produces nothing. The link
        waits for each read's answer before issuing the next command.
    rdata : In(stream.Signature(word_bits))
        The words read, one per read command.
    """

    def __init__(self, *, word_bits, n_regions):
        self._word_bits = word_bits
        self._n_regions = n_regions
        super().__init__({
            "cmd": Out(stream.Signature(MemoryCommand(word_bits=word_bits,
                                                      n_regions=n_regions))),
            "rdata": In(stream.Signature(word_bits)),
        })

    @property
    def word_bits(self):
        return self._word_bits

    @property
    def n_regions(self):
        return self._n_regions

    def __eq__(self, other):
        return (type(self) is type(other) and self.word_bits == other.word_bits
                and self.n_regions == other.n_regions)

    def __repr__(self):
        return f"MemoryPortSignature(word_bits={self.word_bits}, n_regions={self.n_regions})"


#: Engine command: the request opcode (an engine opcode of ``fewmul.protocol``) and payload
#: length.
EngineCommand = data.StructLayout({"opcode": 8, "length": 16})
#: Engine answer bytes: the first is a status (an ``ErrorCode``, 0 = OK), the rest the response
#: payload; ``last`` marks the final byte (a status-only answer is one byte with ``last``).
EngineResponse = data.StructLayout({"data": 8, "last": 1})


class EnginePortSignature(wiring.Signature):
    """The link's engine port, seen from the link (the initiator; an engine uses ``.flip()``).

    Per engine frame: one ``cmd`` transfer, then exactly ``cmd.length`` payload bytes on
    ``arg``, then the engine's answer on ``resp`` (status byte first, ``last`` on the final
    byte). The link has already checked the length of every fixed-length request
    (``fewmul.protocol.FIXED_REQUEST_LENGTHS``); TRAIN and PREDICT, whose length is the
    engine's sample size, are the engine's to check. Answer bytes beyond ``max_payload`` are
    discarded. The link does not time the engine out: the engine must answer every command in
    bounded time.

    Members
    -------
    cmd : Out(stream.Signature(EngineCommand))
        ``{opcode (8), length (16)}`` of the frame.
    arg : Out(stream.Signature(8))
        The frame's payload bytes, in order.
    resp : In(stream.Signature(EngineResponse))
        The answer: ``{data (8), last (1)}`` bytes.
    """

    def __init__(self):
        super().__init__({
            "cmd": Out(stream.Signature(EngineCommand)),
            "arg": Out(stream.Signature(8)),
            "resp": In(stream.Signature(EngineResponse)),
        })

    def __eq__(self, other):
        return type(self) is type(other)

    def __repr__(self):
        return "EnginePortSignature()"


# sources of a response payload
_SRC_BUFFER, _SRC_PING, _SRC_STATUS, _SRC_ERROR = range(4)
_STATUS_BYTES = 4 * N_COUNTERS


class Link(wiring.Component):
    """Framed command link (``docs/protocol.md``).

    Parameters
    ----------
    word_bits : int
        Width of a memory word (weights and biases: ``Config.weight_bits``); on the wire each
        word takes ``ceil(word_bits / 8)`` bytes, little-endian.
    depths : tuple of int
        Words in each region (the frames' "layer" field); ``fewmul.protocol.memory_map`` gives the
        engine's map. At most 255 regions of at most 65535 words.
    max_payload : int
        Largest payload accepted or sent (the buffer size in bytes); at least the PING and
        STATUS responses (44 bytes).
    timeout_cycles : int
        Idle clocks inside a frame after which it is dropped as truncated. Pick a few byte times
        of the UART: ``timeout_cycles >= 20 * divisor``.

    Ports
    -----
    i : In(stream.Signature(8))
        Request bytes; always ready.
    o : Out(stream.Signature(8))
        Response bytes.
    mem : Out(MemoryPortSignature(word_bits=word_bits, n_regions=len(depths)))
    engine : Out(EnginePortSignature())

    After reset the link spends ``len(Counter) - 1`` clocks zeroing its counters (bytes
    arriving then are dropped), and after each response 3 clocks before it listens again.

    Timing: a response starts within ``timeout_cycles`` of the last byte of a truncated or
    oversized frame, 1 clock after a refused one (BAD_CRC .. BAD_ADDRESS, decided in DECODE),
    and after ``5 + (2 * word_bytes + 1) * count`` (LOAD),
    ``(word_bytes + 3) * count`` plus the memory's read latency (READ) or ``2 * length`` plus the
    engine's time (engine commands) after a complete frame; sending it takes
    ``2 * (length + 6)`` clocks when ``o`` is always ready.
    """

    @refusable
    def __init__(self, *, word_bits, depths, max_payload=256, timeout_cycles=1000):
        _check_int("word_bits", word_bits, 1, 32)
        if (not isinstance(depths, tuple) or not 1 <= len(depths) <= 255
                or any(isinstance(d, bool) or not isinstance(d, int) or not 1 <= d <= 0xFFFF
                       for d in depths)):
            raise ValueError(f"depths must be a tuple of 1 to 255 integers in [1, 65535], "
                             f"not {depths!r}")
        ping_bytes = 5 + 2 * len(depths)
        _check_int("max_payload", max_payload, max(_STATUS_BYTES, ping_bytes), 0xFFFF)
        _check_int("timeout_cycles", timeout_cycles, 2, 2**24)
        self._word_bits = word_bits
        self._depths = depths
        self._max_payload = max_payload
        self._timeout_cycles = timeout_cycles
        super().__init__({
            "i": In(stream.Signature(8)),
            "o": Out(stream.Signature(8)),
            "mem": Out(MemoryPortSignature(word_bits=word_bits, n_regions=len(depths))),
            "engine": Out(EnginePortSignature()),
        })

    @property
    def word_bits(self):
        return self._word_bits

    @property
    def word_bytes(self):
        return word_bytes(self._word_bits)

    @property
    def depths(self):
        return self._depths

    @property
    def max_payload(self):
        return self._max_payload

    @property
    def timeout_cycles(self):
        return self._timeout_cycles

    @property
    def ping_info(self):
        """What PING answers (``fewmul.protocol.PingInfo``)."""
        return PingInfo(VERSION, self._word_bits, self._max_payload, self._depths)

    def elaborate(self, platform):
        m = Module()
        wb = self.word_bytes
        max_payload = self._max_payload
        n_regions = len(self._depths)

        m.submodules.buffer = buffer = memory.Memory(shape=8, depth=max_payload, init=[])
        buf_w = buffer.write_port()
        buf_r = buffer.read_port()

        take = Signal()
        m.d.comb += [self.i.ready.eq(1), take.eq(self.i.valid)]
        byte_in = self.i.payload

        opcode = Signal(8)
        length = Signal(16)
        pointer = Signal(16)                      # buffer byte index
        header = Signal(40)                       # first 5 payload bytes: region, address, count
        region, address_field, count = header[0:8], header[8:24], header[24:40]
        timer = Signal(range(self._timeout_cycles))
        code = Signal(8)
        resp_opcode = Signal(8)
        resp_length = Signal(16)
        resp_source = Signal(2)
        position = Signal(16)                     # byte of the response frame being sent
        address = Signal(ADDRESS_BITS)
        remaining = Signal(16)
        word = Signal(8 * wb)
        byte_index = Signal(range(wb))
        first = Signal()
        # Response counters live in a small memory (one adder, one read-modify-write per
        # response); the dropped-byte counter can tick in any cycle, so it is a register.
        m.submodules.counters = counters = memory.Memory(shape=32, depth=Counter.DROPPED_BYTES,
                                                          init=[])
        count_r = counters.read_port()
        count_w = counters.write_port()
        dropped = Signal(32)
        clear_index = Signal(range(Counter.DROPPED_BYTES))
        clear_then_engine = Signal()

        # The buffer is read at ``pointer``, except while a payload byte is being sent: then at
        # the next byte's, so that TX_FETCH can hold that byte in ``tx_data`` (the block RAM's
        # slow clock-to-out then ends at a register instead of running on through the frame's
        # byte select into the CRC: the ULX3S trainer's critical path, 15.1 ns).
        tx_data = Signal(8)
        m.d.comb += buf_r.addr.eq(pointer)

        # One CRC processor: it checks the request, then (restarted in TX_START) signs the
        # response. ``crc`` is its registered value: the CRC of the bytes absorbed so far.
        m.submodules.crc = frame_crc = FRAME_CRC.create()
        crc = Signal(16)
        m.d.comb += crc.eq(frame_crc.crc)

        def respond_ok(payload_length, source=_SRC_BUFFER):
            m.d.sync += [code.eq(ErrorCode.OK), resp_opcode.eq(opcode | RESPONSE_FLAG),
                         resp_length.eq(payload_length), resp_source.eq(source)]
            m.next = "TX_START"

        def respond_error(error):
            m.d.sync += [code.eq(error), resp_opcode.eq(ERROR_OPCODE), resp_length.eq(2),
                         resp_source.eq(_SRC_ERROR)]
            m.next = "TX_START"

        # -- checks of a received frame (DECODE) --------------------------------------------
        depth = Array(Const(d, 17) for d in self._depths)[region[:max(1, (n_regions - 1)
                                                                      .bit_length())]]
        region_ok = region < n_regions
        address_ok = (address_field + count) <= depth
        count_bytes = count * wb
        # The request lengths of fewmul.protocol's table: every fixed length, LOAD's from its
        # count, READ's answer within max_payload; TRAIN, PREDICT and DATA are the engine's to
        # check (their length depends on its sample size). Plain expressions, not a Switch
        # (see the note on Icarus below).
        def is_op(*ops):
            return Cat(*(opcode == op for op in ops)).any()

        length_rules = [is_op(op) & (length == fixed) for op, fixed in
                        FIXED_REQUEST_LENGTHS.items() if op != Opcode.READ]
        length_rules += [
            is_op(Opcode.READ) & (length == FIXED_REQUEST_LENGTHS[Opcode.READ]) & (count != 0)
            & (count_bytes <= max_payload),
            is_op(Opcode.LOAD) & (count != 0)
            & (length == request_length(Opcode.LOAD, word_bits=self._word_bits, count=count)),
            is_op(Opcode.TRAIN, Opcode.PREDICT, Opcode.DATA),
        ]
        known_opcode, length_ok = Signal(), Signal()
        m.d.comb += [known_opcode.eq(is_op(*Opcode)), length_ok.eq(Cat(*length_rules).any())]

        # -- response payload bytes ---------------------------------------------------------
        data_index = Signal(16)
        m.d.comb += data_index.eq(position - 4)
        ping_bytes = Array(Const(b, 8) for b in self.ping_info.encode())
        status_word = Mux(data_index[2:] == Counter.DROPPED_BYTES, dropped, count_r.data)
        status_byte = status_word.word_select(data_index[:2], 8)
        error_bytes = Array([opcode, code])
        payload_byte = Array([tx_data, ping_bytes[data_index], status_byte,
                              error_bytes[data_index[0]]])[resp_source]
        frame_byte = Signal(8)
        with m.If(position == 0):
            m.d.comb += frame_byte.eq(SYNC)
        with m.Elif(position == 1):
            m.d.comb += frame_byte.eq(resp_opcode)
        with m.Elif(position == 2):
            m.d.comb += frame_byte.eq(resp_length[:8])
        with m.Elif(position == 3):
            m.d.comb += frame_byte.eq(resp_length[8:])
        with m.Elif(data_index < resp_length):
            m.d.comb += frame_byte.eq(payload_byte)
        with m.Elif(data_index == resp_length):
            m.d.comb += frame_byte.eq(crc[8:])
        with m.Else():
            m.d.comb += frame_byte.eq(crc[:8])

        receiving = Signal()
        fsm_hunting = Signal()
        timed_out = Signal()
        m.d.comb += timed_out.eq(~take & (timer == self._timeout_cycles - 1))
        with m.If(receiving & ~fsm_hunting):                # the timer rests while hunting
            m.d.sync += timer.eq(0)
            with m.If(~take):
                m.d.sync += timer.eq(timer + 1)

        def receive(timeout_error=ErrorCode.TIMEOUT):
            """Common to the states inside a frame: input counted as received, idle timeout."""
            m.d.comb += receiving.eq(1)
            with m.If(timed_out):
                respond_error(timeout_error)

        with m.FSM(name="link", init="CLEAR") as fsm:
            with m.State("CLEAR"):                      # after reset, and for RESET frames
                m.d.sync += clear_index.eq(clear_index + 1)
                with m.If(clear_index == Counter.DROPPED_BYTES - 1):
                    m.d.sync += [clear_index.eq(0), clear_then_engine.eq(0)]
                    with m.If(clear_then_engine):
                        m.next = "ENGINE_COMMAND"
                    with m.Else():
                        m.next = "HUNT"

            with m.State("HUNT"):
                m.d.comb += receiving.eq(1)
                with m.If(take & (byte_in == SYNC)):
                    m.d.sync += [opcode.eq(0), timer.eq(0)]
                    m.next = "OPCODE"

            with m.State("OPCODE"):
                receive()
                with m.If(take):
                    m.d.sync += opcode.eq(byte_in)
                    m.next = "LENGTH_LO"
            with m.State("LENGTH_LO"):
                receive()
                with m.If(take):
                    m.d.sync += length[:8].eq(byte_in)
                    m.next = "LENGTH_HI"
            with m.State("LENGTH_HI"):
                receive()
                with m.If(take):
                    full = Cat(length[:8], byte_in)
                    m.d.sync += [length[8:].eq(byte_in), pointer.eq(0)]
                    with m.If(full > max_payload):
                        m.next = "DISCARD"
                    with m.Elif(full == 0):
                        m.next = "CRC_HI"
                    with m.Else():
                        m.next = "PAYLOAD"
            with m.State("PAYLOAD"):
                receive()
                with m.If(take):
                    m.d.comb += [buf_w.addr.eq(pointer), buf_w.data.eq(byte_in), buf_w.en.eq(1)]
                    m.d.sync += pointer.eq(pointer + 1)
                    for k in range(5):
                        with m.If(pointer == k):
                            m.d.sync += header[8 * k:8 * k + 8].eq(byte_in)
                    with m.If(pointer == length - 1):
                        m.next = "CRC_HI"
            with m.State("CRC_HI"):
                receive()
                with m.If(take):
                    m.next = "CRC_LO"
            with m.State("CRC_LO"):
                receive()
                with m.If(take):
                    m.next = "DECODE"              # DECODE checks the CRC, absorbed by then
            with m.State("DISCARD"):
                receive(ErrorCode.OVERSIZE)

            with m.State("DECODE"):
                m.d.sync += [pointer.eq(0), address.eq(address_field), remaining.eq(count),
                             byte_index.eq(0)]
                with m.If(~frame_crc.match_detected):
                    respond_error(ErrorCode.BAD_CRC)
                with m.Elif(~known_opcode):
                    respond_error(ErrorCode.UNKNOWN_OPCODE)
                with m.Elif(~length_ok):
                    respond_error(ErrorCode.BAD_LENGTH)
                with m.Else(), m.Switch(opcode):
                    with m.Case(Opcode.PING):
                        respond_ok(len(ping_bytes), _SRC_PING)
                    with m.Case(Opcode.STATUS):
                        respond_ok(_STATUS_BYTES, _SRC_STATUS)
                    with m.Case(Opcode.LOAD, Opcode.READ):
                        with m.If(~region_ok):
                            respond_error(ErrorCode.BAD_REGION)
                        with m.Elif(~address_ok):
                            respond_error(ErrorCode.BAD_ADDRESS)
                        with m.Elif(opcode == Opcode.LOAD):
                            m.d.sync += pointer.eq(MEMORY_HEADER_BYTES)
                            m.next = "LOAD_FETCH"
                        with m.Else():
                            m.next = "READ_COMMAND"
                    with m.Case(Opcode.RESET):                 # zero the counters first
                        m.d.sync += [clear_index.eq(0), clear_then_engine.eq(1)]
                        m.next = "CLEAR"
                    with m.Default():
                        m.next = "ENGINE_COMMAND"

            # -- LOAD: buffer bytes -> words -> memory writes ---------------------------------
            with m.State("LOAD_FETCH"):                  # buffer read in flight
                m.next = "LOAD_BYTE"
            with m.State("LOAD_BYTE"):
                m.d.sync += [word.eq(Cat(word[8:], buf_r.data)), pointer.eq(pointer + 1),
                             byte_index.eq(byte_index + 1)]
                with m.If(byte_index == wb - 1):
                    m.d.sync += byte_index.eq(0)
                    m.next = "LOAD_WRITE"
                with m.Else():
                    m.next = "LOAD_FETCH"
            with m.State("LOAD_WRITE"):
                m.d.comb += [self.mem.cmd.payload.write.eq(1),
                             self.mem.cmd.payload.region.eq(region),
                             self.mem.cmd.payload.address.eq(address),
                             self.mem.cmd.payload.data.eq(word)]
                with m.If(self.mem.cmd.ready):
                    m.d.sync += [address.eq(address + 1), remaining.eq(remaining - 1)]
                    with m.If(remaining == 1):
                        respond_ok(0)
                    with m.Else():
                        m.next = "LOAD_FETCH"

            # -- READ: memory reads -> words -> buffer bytes ----------------------------------
            with m.State("READ_COMMAND"):
                m.d.comb += [self.mem.cmd.payload.write.eq(0),
                             self.mem.cmd.payload.region.eq(region),
                             self.mem.cmd.payload.address.eq(address)]
                with m.If(self.mem.cmd.ready):
                    m.next = "READ_WAIT"
            with m.State("READ_WAIT"):
                with m.If(self.mem.rdata.valid):
                    m.d.sync += word.eq(self.mem.rdata.payload)
                    m.next = "READ_STORE"
            with m.State("READ_STORE"):
                m.d.comb += [buf_w.addr.eq(pointer), buf_w.data.eq(word[:8]), buf_w.en.eq(1)]
                m.d.sync += [word.eq(word >> 8), pointer.eq(pointer + 1),
                             byte_index.eq(byte_index + 1)]
                with m.If(byte_index == wb - 1):
                    m.d.sync += [byte_index.eq(0), address.eq(address + 1),
                                 remaining.eq(remaining - 1)]
                    with m.If(remaining == 1):
                        respond_ok(count_bytes)
                    with m.Else():
                        m.next = "READ_COMMAND"

            # -- engine commands: payload out, answer back into the buffer --------------------
            with m.State("ENGINE_COMMAND"):
                m.d.comb += [self.engine.cmd.payload.opcode.eq(opcode),
                             self.engine.cmd.payload.length.eq(length)]
                with m.If(self.engine.cmd.ready):
                    m.d.sync += first.eq(1)
                    with m.If(length == 0):
                        m.next = "ENGINE_RESPONSE"
                    with m.Else():
                        m.next = "ENGINE_FETCH"
            with m.State("ENGINE_FETCH"):
                m.next = "ENGINE_ARGUMENT"
            with m.State("ENGINE_ARGUMENT"):
                m.d.comb += self.engine.arg.payload.eq(buf_r.data)
                with m.If(self.engine.arg.ready):
                    m.d.sync += pointer.eq(pointer + 1)
                    with m.If(pointer == length - 1):
                        m.d.sync += pointer.eq(0)
                        m.next = "ENGINE_RESPONSE"
                    with m.Else():
                        m.next = "ENGINE_FETCH"
            with m.State("ENGINE_RESPONSE"):
                answer = self.engine.resp.payload
                status = Signal(8)
                stored = Signal(16)
                m.d.comb += [status.eq(code), stored.eq(pointer)]
                with m.If(self.engine.resp.valid):
                    with m.If(first):
                        m.d.comb += status.eq(answer.data)
                        m.d.sync += [code.eq(answer.data), first.eq(0)]
                    with m.Elif((code == ErrorCode.OK) & (pointer < max_payload)):
                        m.d.comb += [buf_w.addr.eq(pointer), buf_w.data.eq(answer.data),
                                     buf_w.en.eq(1), stored.eq(pointer + 1)]
                        m.d.sync += pointer.eq(pointer + 1)
                    with m.If(answer.last):
                        with m.If(status == ErrorCode.OK):
                            respond_ok(stored)
                        with m.Else():
                            respond_error(status)

            # -- response frame ------------------------------------------------------------
            with m.State("TX_START"):
                m.d.sync += [position.eq(0), pointer.eq(0)]
                m.next = "TX_SEND"
            with m.State("TX_FETCH"):                    # the buffer's byte at `pointer` out
                m.d.sync += tx_data.eq(buf_r.data)
                m.next = "TX_SEND"
            with m.State("TX_SEND"):
                m.d.comb += self.o.payload.eq(frame_byte)
                with m.If(self.o.ready):
                    m.d.sync += position.eq(position + 1)
                    with m.If(position >= 4):
                        m.d.sync += pointer.eq(pointer + 1)
                        m.d.comb += buf_r.addr.eq(pointer + 1)
                    with m.If(position == resp_length + 5):
                        m.next = "DONE"
                    with m.Else():
                        m.next = "TX_FETCH"
            with m.State("DONE"):                       # counter read in flight
                m.next = "COUNT"
            with m.State("COUNT"):                      # (the write port is driven below)
                m.next = "HUNT"


        # Handshakes as plain functions of the state (continuous assignments in Verilog): Icarus
        # never evaluates an `always @*` block whose inputs do not change after time 0, which
        # would leave a handshake inside the FSM at X until the state first moves.
        m.d.comb += [
            fsm_hunting.eq(fsm.ongoing("HUNT")),
            self.o.valid.eq(fsm.ongoing("TX_SEND")),
            self.mem.cmd.valid.eq(fsm.ongoing("LOAD_WRITE") | fsm.ongoing("READ_COMMAND")),
            self.mem.rdata.ready.eq(fsm.ongoing("READ_WAIT")),
            self.engine.cmd.valid.eq(fsm.ongoing("ENGINE_COMMAND")),
            self.engine.arg.valid.eq(fsm.ongoing("ENGINE_ARGUMENT")),
            self.engine.resp.ready.eq(fsm.ongoing("ENGINE_RESPONSE")),
        ]
        # The CRC processor, likewise: it restarts on a frame's SYNC and in TX_START, absorbs
        # each received byte from the opcode to the CRC, then each sent byte from the opcode to
        # the payload's end.
        in_frame = Signal()
        m.d.comb += in_frame.eq(fsm.ongoing("OPCODE") | fsm.ongoing("LENGTH_LO")
                                | fsm.ongoing("LENGTH_HI") | fsm.ongoing("PAYLOAD")
                                | fsm.ongoing("CRC_HI") | fsm.ongoing("CRC_LO"))
        sending = fsm.ongoing("TX_SEND")
        signed = (position >= 1) & (position <= 3) | (position >= 4) & (data_index < resp_length)
        m.d.comb += [
            frame_crc.start.eq(fsm_hunting & take & (byte_in == SYNC) | fsm.ongoing("TX_START")),
            frame_crc.valid.eq(in_frame & take | sending & self.o.ready & signed),
            frame_crc.data.eq(Mux(sending, frame_byte, byte_in)),
        ]

        with m.If(take & ~receiving):
            m.d.sync += dropped.eq(dropped + 1)
        with m.If(fsm.ongoing("DECODE") & frame_crc.match_detected & is_op(Opcode.RESET)
                  & length_ok):                 # DECODE accepts a RESET frame
            m.d.sync += dropped.eq(0)

        # Counter memory ports, as plain functions of the state too (the reset state CLEAR does
        # not move for its first clocks): CLEAR zeroes, DONE reads the counter of the response's
        # code and COUNT writes it back plus one; otherwise STATUS's word is read.
        clearing, counting = fsm.ongoing("CLEAR"), fsm.ongoing("COUNT")
        m.d.comb += [
            count_r.addr.eq(Mux(fsm.ongoing("DONE"), code, data_index[2:])),
            count_w.addr.eq(Mux(clearing, clear_index, code)),
            count_w.data.eq(Mux(clearing, 0, count_r.data + 1)),
            count_w.en.eq(clearing | (counting & (code < Counter.DROPPED_BYTES))),
        ]
        return m
