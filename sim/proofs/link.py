"""Host link (``hw/link.py``): protocol properties from ``fewmul.host`` / ``docs/protocol.md``.

Frame: ``SYNC, opcode, length (LE16), payload[length], CRC-16/CCITT-FALSE (MSB first)`` over
opcode .. payload; the CRC of the covered bytes followed by the CRC is 0. The harness keeps its
own monitors, written from that description (its CRC is the bitwise textbook loop, not the
link's XOR table): a request parser on ``i`` and a response parser on ``o``. The link is
white-box in one respect only: a frame *starts* when its state is HUNT and it takes a SYNC
(bytes arriving while it executes or answers are dropped by design).

``crc_gate``  the memory and engine ports are only driven (any ``mem.cmd``, ``engine.cmd`` or
              ``engine.arg`` valid) after a complete request whose CRC the monitor found good,
              and before the next frame starts: a frame failing its CRC never writes.
``one_response``  every response on ``o`` starts with SYNC, carries a good CRC, and answers one
              accepted frame: a response completes only while one frame is unanswered, and a
              new frame starts only when every earlier one has been answered.
``timeout``   inside a frame the link never waits more than ``timeout_cycles`` idle clocks: it
              then leaves the frame (and answers TIMEOUT / OVERSIZE), so any byte sequence
              followed by silence brings the receiver back.

The host, memory and engine sides are free in every cycle (any bytes, any handshakes, reset
at any time). These are bounded proofs (BMC to ``depth`` cycles from reset, not k-induction).
After the ``CLEAR`` cycles that follow reset, 16 cycles reach a one-word LOAD's memory write and any
zero-length engine command; 26 cycles reach a timed-out frame, its 8-byte error response and
the start of the next frame. Deeper runs cost roughly twice the time per extra cycle.
"""

from functools import partial

from amaranth.asserts import AnySeq
from amaranth.hdl import Assert, Cat, Cover, Mux, Signal

from ..formal import Proof
from ._harness import Harness, elaborate_once, fsm_states, internal, legal_state, mutated

BLOCK = "fewmul.hw.link"

#: Small link: 8-bit words, two regions, the smallest buffer, a short idle timeout.
PARAMS = dict(word_bits=8, depths=(4, 2), max_payload=44, timeout_cycles=3)

#: Cycles the link spends in CLEAR after reset (zeroing its counters) before it hunts for SYNC.
CLEAR = 10

RECEIVE_STATES = ("OPCODE", "LENGTH_LO", "LENGTH_HI", "PAYLOAD", "CRC_HI", "CRC_LO", "DISCARD")


def spec_crc16(crc, byte):
    """CRC-16 of the monitors: ``hw/crc.py``'s byte update, which ``crc.py`` proves equal to
    the textbook bitwise CRC-16/CCITT-FALSE for every CRC and byte. (With the bitwise loop
    here, the solver would have to rediscover that equivalence at every byte of every frame,
    which takes minutes instead of seconds.)"""
    from fewmul.hw.crc import crc16_next
    return crc16_next(crc, byte)


def _make(**overrides):
    from fewmul.hw.link import Link
    return Link(**(PARAMS | overrides))


def _drive(m, make):
    """The link with every environment input free; returns ``(dut, state, states, take, byte)``
    (and sets ``m.link_fragment`` for white-box invariants)."""
    dut = make()
    fragment = elaborate_once(m, dut)
    m.link_fragment = fragment
    _, state, states = fsm_states(fragment, "link")
    m.d.comb += Assert(legal_state(state, states))
    host_valid, host_byte = AnySeq(1), AnySeq(8)
    m.d.comb += [
        dut.i.valid.eq(host_valid), dut.i.payload.eq(host_byte),
        dut.o.ready.eq(AnySeq(1)),
        dut.mem.cmd.ready.eq(AnySeq(1)),
        dut.mem.rdata.valid.eq(AnySeq(1)),
        dut.mem.rdata.payload.eq(AnySeq(len(dut.mem.rdata.payload))),
        dut.engine.cmd.ready.eq(AnySeq(1)), dut.engine.arg.ready.eq(AnySeq(1)),
        dut.engine.resp.valid.eq(AnySeq(1)),
        dut.engine.resp.payload.eq(AnySeq(len(dut.engine.resp.payload.as_value()))),
    ]
    take = Signal()
    m.d.comb += take.eq(host_valid & dut.i.ready)
    return dut, state, states, take, host_byte


def _frame_start(m, state, states, take, byte):
    from fewmul.host import SYNC
    start = Signal()
    m.d.comb += start.eq((state == states["HUNT"]) & take & (byte == SYNC))
    return start


def _crc_gate(m, make, *, covers=False):
    dut, state, states, take, byte = _drive(m, make)
    max_payload = dut.max_payload
    start = _frame_start(m, state, states, take, byte)
    # Request monitor: position in the frame, length field, running CRC, verdict.
    in_frame = Signal()
    position = Signal(17)
    length = Signal(16)
    crc = Signal(16)
    frame_ok = Signal()
    receiving = legal_in(state, states)
    with m.If(start):
        m.d.sync += [in_frame.eq(1), position.eq(1), crc.eq(0xFFFF), frame_ok.eq(0)]
    with m.Elif(in_frame & ~receiving):                 # the link gave up (timeout, reset)
        m.d.sync += in_frame.eq(0)
    with m.Elif(in_frame & take):
        m.d.sync += [position.eq(position + 1), crc.eq(spec_crc16(crc, byte))]
        with m.If(position == 2):
            m.d.sync += length[:8].eq(byte)
        with m.If(position == 3):
            m.d.sync += length[8:].eq(byte)
            with m.If(Cat(length[:8], byte) > max_payload):
                m.d.sync += in_frame.eq(0)              # oversize: never executed
        with m.If((position >= 4) & (position == length + 5)):
            m.d.sync += [in_frame.eq(0), frame_ok.eq(spec_crc16(crc, byte) == 0)]
    # Invariant that keeps the BMC fast: the link's running CRC is the monitor's. (Checked, not
    # assumed; without it the solver rediscovers the equality at every byte.)
    link_crc, = internal(m.link_fragment, "crc")
    with m.If(in_frame):
        m.d.comb += Assert(link_crc == crc)
    acting = dut.mem.cmd.valid | dut.engine.cmd.valid | dut.engine.arg.valid
    with m.If(acting):
        m.d.comb += Assert(frame_ok & ~in_frame)
    if covers:
        m.d.comb += Cover(dut.mem.cmd.valid & dut.mem.cmd.payload.write & dut.mem.cmd.ready)
        m.d.comb += Cover(dut.engine.cmd.valid)
        m.d.comb += Cover(in_frame & take & (position >= 4) & (position == length + 5)
                          & (spec_crc16(crc, byte) != 0))


def _one_response(m, make, *, covers=False):
    from fewmul.host import SYNC
    dut, state, states, take, byte = _drive(m, make)
    start = _frame_start(m, state, states, take, byte)
    sent = Signal()
    m.d.comb += sent.eq(dut.o.valid & dut.o.ready)
    out_byte = dut.o.payload
    # Response monitor.
    out_position = Signal(17)
    out_length = Signal(16)
    out_crc = Signal(16)
    done = Signal()
    with m.If(sent):
        m.d.sync += out_position.eq(out_position + 1)
        with m.If(out_position == 0):
            m.d.comb += Assert(out_byte == SYNC)
            m.d.sync += out_crc.eq(0xFFFF)
        with m.Else():
            m.d.sync += out_crc.eq(spec_crc16(out_crc, out_byte))
        with m.If(out_position == 2):
            m.d.sync += out_length[:8].eq(out_byte)
        with m.If(out_position == 3):
            m.d.sync += out_length[8:].eq(out_byte)
        with m.If((out_position >= 4) & (out_position == out_length + 5)):
            m.d.comb += [done.eq(1), Assert(spec_crc16(out_crc, out_byte) == 0)]
            m.d.sync += out_position.eq(0)
    # Invariant (checked): the link's transmit CRC is the monitor's over the bytes sent so far.
    tx_crc, = internal(m.link_fragment, "tx_crc")
    with m.If((out_position >= 1) & (out_position <= out_length + 4)):
        m.d.comb += Assert(tx_crc == out_crc)
    unanswered = Signal(2)
    m.d.sync += unanswered.eq(unanswered + start - done)
    with m.If(start):
        m.d.comb += Assert(unanswered == 0)
    with m.If(done):
        m.d.comb += Assert(unanswered == 1)
    with m.If(out_position != 0):
        m.d.comb += Assert(unanswered == 1)
    if covers:
        answered = Signal()
        with m.If(done):
            m.d.sync += answered.eq(1)
        m.d.comb += Cover(done)
        m.d.comb += Cover(start & answered)             # a second frame after an answer


def _timeout(m, make, *, timeout_cycles, covers=False):
    dut, state, states, take, byte = _drive(m, make)
    receiving = Signal()
    m.d.comb += receiving.eq(legal_in(state, states))
    quiet = Signal(range(timeout_cycles + 2))
    with m.If(receiving & ~take):
        with m.If(quiet != timeout_cycles + 1):
            m.d.sync += quiet.eq(quiet + 1)
    with m.Else():
        m.d.sync += quiet.eq(0)
    m.d.comb += Assert(quiet <= timeout_cycles)
    if covers:
        m.d.comb += Cover(quiet == timeout_cycles)        # the bound is attained
        m.d.comb += Cover(state == states["DISCARD"])


def legal_in(state, states):
    inside = 0
    for name in RECEIVE_STATES:
        inside = inside | (state == states[name])
    return inside


def proofs():
    bound = PARAMS["timeout_cycles"]
    return [
        Proof(name="link.crc_gate", block="link",
              prop="mem/engine driven only after a complete frame with a good CRC",
              build=partial(Harness, _crc_gate, _make), mode="bmc", depth=CLEAR + 16),
        Proof(name="link.one_response", block="link",
              prop="responses: SYNC, good CRC, exactly one per accepted frame, in order",
              build=partial(Harness, _one_response, _make), mode="bmc", depth=CLEAR + 22,
              timeout=1200),
        Proof(name="link.timeout", block="link",
              prop=f"inside a frame at most timeout_cycles ({bound}) idle clocks, then out",
              build=partial(Harness, partial(_timeout, timeout_cycles=bound), _make),
              mode="bmc", depth=CLEAR + 16),
        Proof(name="link.crc_gate_corners", block="link",
              prop="reachable: a memory write, an engine command, a frame with a bad CRC",
              build=partial(Harness, partial(_crc_gate, covers=True), _make), mode="cover",
              depth=CLEAR + 16),
        Proof(name="link.one_response_corners", block="link",
              prop="reachable: a response, a second frame after it",
              build=partial(Harness, partial(_one_response, covers=True), _make), mode="cover",
              depth=CLEAR + 24, timeout=1200),
        Proof(name="link.timeout_corners", block="link",
              prop="reachable: the last idle clock before a timeout, an oversize discard",
              build=partial(Harness, partial(_timeout, timeout_cycles=bound, covers=True),
                            _make), mode="cover", depth=CLEAR + 16),
    ]


def mutants():
    from fewmul.host import SYNC
    crc_gate, one_response, timeout = proofs()[:3]
    bound = PARAMS["timeout_cycles"]
    return [
        # The link checks the CRC of other bytes than it received (LSB of non-SYNC flipped).
        mutated(crc_gate, _crc_gate, _make, "checks_other_bytes",
                inputs={"i.payload": lambda b: Mux(b == SYNC, b, b ^ 1)}),
        # The response stream claims bytes while the link sends nothing (valid stuck high).
        mutated(one_response, _one_response, _make, "valid_stuck_high",
                outputs={"o.valid": lambda v: 1}),
        # The response's SYNC byte corrupted on the way out.
        mutated(one_response, _one_response, _make, "sync_corrupted",
                outputs={"o.payload": lambda b: Mux(b == SYNC, b ^ 1, b)}),
        # A link that waits twice as long as the proof's bound.
        mutated(timeout, partial(_timeout, timeout_cycles=bound),
                partial(_make, timeout_cycles=2 * bound), "slow_timeout"),
    ]
