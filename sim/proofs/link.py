"""Host link (``hw/link.py``): protocol properties from ``fewmul.protocol`` /
``docs/protocol.md``.

Frame: ``SYNC, opcode, length (LE16), payload[length], CRC-16/CCITT-FALSE (MSB first)`` over
opcode .. payload; the CRC of the covered bytes followed by the CRC is 0. The harness keeps its
own monitors, written from that description: a request parser on ``i`` and a response parser on
``o``. A frame *starts* when the link is idle (its state is HUNT) and takes a SYNC (bytes
arriving while it executes or answers are dropped by design, protocol rule 1).

Safety (every environment input free in every cycle: any bytes, any handshakes, reset at any
time):

``crc_gate``  the memory and engine ports are only driven (any ``mem.cmd``, ``engine.cmd`` or
              ``engine.arg`` valid), and the link's counters only zeroed for a RESET, after a
              complete request whose CRC the monitor found good and before the next frame
              starts: a frame failing its CRC never writes weights, counters or commands.
``one_response``  every response on ``o`` starts with SYNC, carries a good CRC, and answers one
              accepted frame: a response completes only while one frame is unanswered, and a
              new frame starts only when every earlier one has been answered.
``timeout``   inside a frame the link never waits more than ``timeout_cycles`` idle clocks: it
              then leaves the frame (and answers TIMEOUT / OVERSIZE).

Bounded liveness, as safety properties with a deadline counter (so k-induction applies), under
an environment that answers (:data:`ENV`, stated as ``Assume``: ``o.ready`` held high, every
memory / engine handshake the link offers completes within ``handshake_cycles`` clocks, an
engine answer has at most ``answer_bytes`` bytes):

``answer_deadline``  while a frame is unanswered, at most :func:`answer_bound` clocks have passed
              since the last byte the link received: a complete frame is answered within that
              many clocks of its CRC byte, a truncated or oversized one of the line going idle.
``idle_deadline``  after :func:`idle_bound` clocks without a received byte, whatever came before
              (any byte sequence, any command), the link is idle (HUNT) again: it never locks up.

A reset (free in every cycle) abandons the frame in progress; the monitors reset with the
link. All five are proven by k-induction. What makes them inductive are white-box invariants, each
*asserted* (so checked in every state, never assumed): the FSM's state is a legal encoding; the
request monitor's position, length and CRC are the link's (``pointer``, ``length``, ``crc``) in
each receive state; the response monitor's position, length and CRC are the link's
(``position``, ``resp_length``, ``crc``); "a frame is unanswered" is a function of the state;
counters stay in range. The liveness proofs add a *variant*: ``work``, an upper bound on the
clocks the link needs to reach HUNT, computed from its state and counters (:func:`_work`). It is
asserted to drop by at least one in every clock without a received byte, and
``since + work <= idle_bound`` where ``since`` counts those clocks; both deadlines follow.
"""

from functools import partial

from amaranth.asserts import AnySeq
from amaranth.hdl import Assert, Assume, Cat, Cover, Mux, Signal

from ..formal import Proof
from ._harness import Harness, elaborate_once, fsm_states, internal, legal_state, mutated

BLOCK = "fewmul.hw.link"

#: Small link: 8-bit words (one byte each), two regions, the smallest buffer the link accepts
#: (``max_payload`` must hold the 44-byte STATUS answer), a short idle timeout. The properties do
#: not depend on the sizes; smaller ones keep the counters narrow and the traces short.
PARAMS = dict(word_bits=8, depths=(4, 2), max_payload=44, timeout_cycles=3)

#: The environment of the liveness proofs (assumptions, stated in ``_environment``).
ENV = dict(handshake_cycles=3, answer_bytes=PARAMS["max_payload"] + 1)

#: Cycles the link spends in CLEAR after reset (zeroing its counters) before it hunts for SYNC.
CLEAR = 10

FRAME_STATES = ("OPCODE", "LENGTH_LO", "LENGTH_HI", "PAYLOAD", "CRC_HI", "CRC_LO")
RECEIVE_STATES = FRAME_STATES + ("DISCARD",)
EXEC_STATES = ("LOAD_FETCH", "LOAD_BYTE", "LOAD_WRITE", "READ_COMMAND", "READ_WAIT",
               "READ_STORE", "ENGINE_COMMAND", "ENGINE_FETCH", "ENGINE_ARGUMENT",
               "ENGINE_RESPONSE")
TX_STATES = ("TX_START", "TX_SEND", "TX_FETCH")


def spec_crc16(crc, byte):
    """CRC-16 of the monitors: ``crc.py``'s flat-XOR byte update, which ``crc.spec_next``
    proves equal to the bitwise CRC-16/CCITT-FALSE written out there, for every CRC and byte.
    (With the bitwise loop here, the solver would have to rediscover that equivalence at every
    byte of every frame, which takes minutes instead of seconds.)"""
    from .crc import spec_next
    return spec_next(crc, byte)


def _make(**overrides):
    """The link with :data:`PARAMS`, or ``overrides`` of them."""
    from fewmul.hw.link import Link
    return Link(**(PARAMS | overrides))


class _Link:
    """The link under proof, its free environment and white-box handles."""

    def __init__(self, m, make):
        from fewmul.protocol import SYNC
        self.dut = dut = make()
        self.fragment = elaborate_once(m, dut)
        _, self.state, self.states = fsm_states(self.fragment, "link")
        m.d.comb += Assert(legal_state(self.state, self.states))
        self.host_valid, self.byte = AnySeq(1), AnySeq(8)
        self.o_ready = AnySeq(1)
        m.d.comb += [
            dut.i.valid.eq(self.host_valid), dut.i.payload.eq(self.byte),
            dut.o.ready.eq(self.o_ready),
            dut.mem.cmd.ready.eq(AnySeq(1)),
            dut.mem.rdata.valid.eq(AnySeq(1)),
            dut.mem.rdata.payload.eq(AnySeq(len(dut.mem.rdata.payload))),
            dut.engine.cmd.ready.eq(AnySeq(1)), dut.engine.arg.ready.eq(AnySeq(1)),
            dut.engine.resp.valid.eq(AnySeq(1)),
            dut.engine.resp.payload.eq(AnySeq(len(dut.engine.resp.payload.as_value()))),
        ]
        self.take = Signal()
        m.d.comb += self.take.eq(self.host_valid & dut.i.ready)
        self.start = Signal()                   # a frame starts: SYNC taken while idle
        m.d.comb += self.start.eq(self.is_("HUNT") & self.take & (self.byte == SYNC))
        self.clear_then_engine, = self.internal("clear_then_engine")
        # A RESET frame zeroes the counters (CLEAR) before its engine command.
        self.executing = self.is_(*EXEC_STATES) | self.is_("CLEAR") & self.clear_then_engine

    def is_(self, *names):
        inside = 0
        for name in names:
            inside = inside | (self.state == self.states[name])
        return inside

    def internal(self, *names):
        return internal(self.fragment, *names)


def _request_monitor(m, link, max_payload):
    """The request parser; asserts that it agrees with the link's receiver. Returns
    ``(in_frame, frame_ok, end, position, length, crc)``: ``end`` marks the last byte of a
    complete frame, ``frame_ok`` whether the last complete frame had a good CRC."""
    take, byte = link.take, link.byte
    in_frame = Signal()
    position = Signal(17)
    length = Signal(16)
    crc = Signal(16)
    frame_ok = Signal()
    end = Signal()
    m.d.comb += end.eq(in_frame & take & (position >= 4) & (position == length + 5))
    with m.If(link.start):
        m.d.sync += [in_frame.eq(1), position.eq(1), crc.eq(0xFFFF), frame_ok.eq(0)]
    with m.Elif(in_frame & ~link.is_(*RECEIVE_STATES)):     # the link gave up (timeout)
        m.d.sync += in_frame.eq(0)
    with m.Elif(in_frame & take):
        m.d.sync += [position.eq(position + 1), crc.eq(spec_crc16(crc, byte))]
        with m.If(position == 2):
            m.d.sync += length[:8].eq(byte)
        with m.If(position == 3):
            m.d.sync += length[8:].eq(byte)
            with m.If(Cat(length[:8], byte) > max_payload):
                m.d.sync += in_frame.eq(0)              # oversize: never executed
        with m.If(end):
            m.d.sync += [in_frame.eq(0), frame_ok.eq(spec_crc16(crc, byte) == 0)]

    # White-box invariants (asserted): inside a frame the monitor and the link agree on where
    # they are, on the length field and on the running CRC.
    link_crc, link_length, pointer = link.internal("crc", "length", "pointer")
    m.d.comb += Assert(in_frame == link.is_(*FRAME_STATES)
                       | (in_frame & link.is_("TX_START")))
    with m.If(in_frame):
        m.d.comb += Assert(link_crc == crc)
    at = {"OPCODE": position == 1, "LENGTH_LO": position == 2,
          "LENGTH_HI": (position == 3) & (link_length[:8] == length[:8]),
          "PAYLOAD": (position == pointer + 4) & (pointer < link_length),
          "CRC_HI": position == link_length + 4, "CRC_LO": position == link_length + 5}
    for name, holds in at.items():
        with m.If(link.is_(name)):
            m.d.comb += Assert(holds)
        if name in ("PAYLOAD", "CRC_HI", "CRC_LO"):
            with m.If(link.is_(name)):
                m.d.comb += Assert((link_length == length) & (link_length <= max_payload))
    # DECODE sees the CRC of the whole frame (the monitor's); a command executes only on a
    # frame whose CRC was good; its length field fits.
    with m.If(link.is_("DECODE")):
        m.d.comb += Assert((link_crc == crc) & (frame_ok == (crc == 0))
                           & (link_length <= max_payload))
    with m.If(link.executing):
        m.d.comb += Assert(frame_ok & (link_length <= max_payload))
    return in_frame, frame_ok, end, position, length, crc


def _crc_gate(m, make, *, covers=False):
    link = _Link(m, make)
    dut = link.dut
    in_frame, frame_ok, end, position, length, crc = _request_monitor(m, link, dut.max_payload)
    # Writes and commands on the ports, and (white-box) the link zeroing its own counters for
    # a RESET frame.
    acting = (dut.mem.cmd.valid | dut.engine.cmd.valid | dut.engine.arg.valid
              | link.is_("CLEAR") & link.clear_then_engine)
    with m.If(acting):
        m.d.comb += Assert(frame_ok & ~in_frame)
    if covers:
        m.d.comb += Cover(dut.mem.cmd.valid & dut.mem.cmd.payload.write & dut.mem.cmd.ready)
        m.d.comb += Cover(dut.engine.cmd.valid)
        m.d.comb += Cover(end & (spec_crc16(crc, link.byte) != 0))


def _response_monitor(m, link):
    """The response parser; asserts that every response starts with SYNC and ends with a good
    CRC, and that it agrees with the link's transmitter. Returns ``(done, unanswered)``:
    ``done`` marks the last byte of a response, ``unanswered`` counts started frames minus
    responses."""
    from fewmul.protocol import SYNC
    dut = link.dut
    sent = Signal()
    m.d.comb += sent.eq(dut.o.valid & dut.o.ready)
    out_byte = dut.o.payload
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
    unanswered = Signal(2)
    m.d.sync += unanswered.eq(unanswered + link.start - done)

    # White-box invariants (asserted): the monitor is at the link's byte of the response, has
    # its length and its CRC; a frame is unanswered exactly while the link is busy with one.
    tx_crc, position, resp_length = link.internal("crc", "position", "resp_length")
    sending = link.is_("TX_SEND", "TX_FETCH")
    m.d.comb += Assert(out_position == Mux(sending, position, 0))
    with m.If(sending):
        with m.If(position >= 3):
            m.d.comb += Assert(out_length[:8] == resp_length[:8])
        with m.If(position >= 4):
            m.d.comb += Assert(out_length == resp_length)
        with m.If(position == 0):
            m.d.comb += Assert(tx_crc == 0xFFFF)
        with m.If((position >= 1) & (position <= resp_length + 4)):
            m.d.comb += Assert(tx_crc == out_crc)
        with m.If(position == resp_length + 5):
            m.d.comb += Assert(out_crc == spec_crc16(tx_crc, tx_crc[8:]))
    idle = link.is_("HUNT", "DONE", "COUNT") | link.is_("CLEAR") & ~link.clear_then_engine
    m.d.comb += Assert(unanswered == Mux(idle, 0, 1))
    return done, unanswered


def _one_response(m, make, *, covers=False, params=PARAMS):
    link = _Link(m, make)
    _ranges(m, link, _costs(params))
    done, unanswered = _response_monitor(m, link)
    with m.If(link.start):
        m.d.comb += Assert(unanswered == 0)
    with m.If(done):
        m.d.comb += Assert(unanswered == 1)
    if covers:
        answered = Signal()
        with m.If(done):
            m.d.sync += answered.eq(1)
        m.d.comb += Cover(done)
        m.d.comb += Cover(link.start & answered)        # a second frame after an answer


def _timeout(m, make, *, timeout_cycles, covers=False):
    link = _Link(m, make)
    receiving = Signal()
    m.d.comb += receiving.eq(link.is_(*RECEIVE_STATES))
    quiet = Signal(range(timeout_cycles + 2))
    with m.If(receiving & ~link.take):
        with m.If(quiet != timeout_cycles + 1):
            m.d.sync += quiet.eq(quiet + 1)
    with m.Else():
        m.d.sync += quiet.eq(0)
    m.d.comb += Assert(quiet <= timeout_cycles)
    # White-box invariant (asserted): inside a frame, the link's idle timer is the monitor's.
    timer, = link.internal("timer")
    with m.If(receiving):
        m.d.comb += Assert(quiet == timer)
    if covers:
        m.d.comb += Cover(quiet == timeout_cycles)        # the bound is attained
        m.d.comb += Cover(link.is_("DISCARD"))


# -- bounded liveness ---------------------------------------------------------------------

def _costs(params=PARAMS, env=ENV):
    """Upper bounds, in clocks, of the link's phases under the environment ``env`` (from the
    link's documented timing, ``hw/link.py`` / ``docs/protocol.md`` rule 4)."""
    from fewmul.protocol import word_bytes
    wb = word_bytes(params["word_bits"])
    mp = params["max_payload"]
    e = env["handshake_cycles"]
    c = dict(wb=wb, mp=mp, e=e, t=params["timeout_cycles"], a=env["answer_bytes"])
    c["tx"] = lambda n: 2 * n + 14              # TX_START .. HUNT for an n-byte payload
    c["txmax"] = c["tx"](mp)
    c["load_word"] = 2 * wb + e                 # LOAD_FETCH/LOAD_BYTE per byte, LOAD_WRITE
    c["read_word"] = 2 * e + wb                 # READ_COMMAND, READ_WAIT, READ_STORE per byte
    c["arg"] = 1 + e                            # ENGINE_FETCH, ENGINE_ARGUMENT
    c["answer"] = c["a"] * e                    # every engine answer byte
    c["load_words"] = (mp - 5) // wb            # LOAD: length = 5 + count * wb <= max_payload
    c["read_words"] = mp // wb                  # READ: count * wb <= max_payload
    c["engine"] = e + mp * c["arg"] + c["answer"] + c["txmax"]
    c["decode"] = 1 + max(c["txmax"],
                          2 * wb + e + (c["load_words"] - 1) * c["load_word"] + c["tx"](0),
                          2 * e + wb + (c["read_words"] - 1) * c["read_word"] + c["txmax"],
                          CLEAR + c["engine"])
    return c


def idle_bound(params=PARAMS, env=ENV):
    """Clocks without a received byte after which the link is idle (HUNT), from any state."""
    return _costs(params, env)["decode"]


def answer_bound(params=PARAMS, env=ENV):
    """Clocks after the last received byte of a frame within which its answer completes (the
    link then takes 3 more clocks, DONE, COUNT, to be idle)."""
    return idle_bound(params, env) - 3


def _environment(m, link, env):
    """The environment the liveness proofs assume (``Assume``), and the invariants it implies.
    Returns ``(stall, answers)``."""
    dut = link.dut
    e, a = env["handshake_cycles"], env["answer_bytes"]
    m.d.comb += Assume(link.o_ready)
    handshakes = [(dut.mem.cmd.valid, dut.mem.cmd.ready),
                  (dut.mem.rdata.ready, dut.mem.rdata.valid),
                  (dut.engine.cmd.valid, dut.engine.cmd.ready),
                  (dut.engine.arg.valid, dut.engine.arg.ready),
                  (dut.engine.resp.ready, dut.engine.resp.valid)]
    waiting = Signal()
    m.d.comb += waiting.eq(sum((offer & ~answer for offer, answer in handshakes), 0) != 0)
    stall = Signal(range(e + 1))                # clocks the current handshake has waited
    m.d.sync += stall.eq(Mux(waiting, stall + 1, 0))
    m.d.comb += Assume(~waiting | (stall < e - 1))  # every handshake completes within e clocks
    answers = Signal(range(a + 1))              # answer bytes since the engine command
    resp = dut.engine.resp
    with m.If(dut.engine.cmd.valid & dut.engine.cmd.ready):
        m.d.sync += answers.eq(0)
    with m.Elif(resp.valid & resp.ready & (answers != a)):
        m.d.sync += answers.eq(answers + 1)
    with m.If(resp.valid & resp.ready & (answers == a - 1)):
        m.d.comb += Assume(resp.payload.last)  # an answer has at most a bytes
    m.d.comb += Assert(stall < e)
    with m.If(stall != 0):
        m.d.comb += Assert(link.is_("LOAD_WRITE", "READ_COMMAND", "READ_WAIT", "ENGINE_COMMAND",
                                    "ENGINE_ARGUMENT", "ENGINE_RESPONSE"))
    with m.If(link.is_("ENGINE_FETCH", "ENGINE_ARGUMENT")):
        m.d.comb += Assert(answers == 0)
    with m.If(link.is_("ENGINE_RESPONSE")):
        m.d.comb += Assert(answers < a)
    return stall, answers


def _work(m, link, stall, answers, c):
    """The variant: clocks the link needs at most to be idle (HUNT) if no byte arrives, from its
    state and counters (whose ranges ``_ranges`` asserts). Returns the signal."""
    wb, e, t = c["wb"], c["e"], c["t"]
    (timer, length, pointer, remaining, position, resp_length,
     clear_index) = link.internal("timer", "length", "pointer", "remaining", "position",
                                  "resp_length", "clear_index")
    byte_index = link.internal("byte_index")[0] if wb > 1 else 0
    width = (c["decode"] + 1).bit_length() + 1
    work = Signal(width)
    load_rest = (remaining - 1) * c["load_word"] + c["tx"](0)
    read_rest = (remaining - 1) * c["read_word"] + c["txmax"]
    engine_tail = c["answer"] + c["txmax"]
    cases = {
        "HUNT": 0,
        "CLEAR": CLEAR - clear_index + Mux(link.clear_then_engine,
                                          e + length * c["arg"] + engine_tail, 0),
        "DECODE": c["decode"],
        "LOAD_FETCH": 2 * (wb - byte_index) + e + load_rest,
        "LOAD_BYTE": 2 * (wb - byte_index) - 1 + e + load_rest,
        "LOAD_WRITE": e - stall + load_rest,
        "READ_COMMAND": e - stall + e + wb + read_rest,
        "READ_WAIT": e - stall + wb + read_rest,
        "READ_STORE": wb - byte_index + read_rest,
        "ENGINE_COMMAND": e - stall + length * c["arg"] + engine_tail,
        "ENGINE_FETCH": 1 + e + (length - 1 - pointer) * c["arg"] + engine_tail,
        "ENGINE_ARGUMENT": e - stall + (length - 1 - pointer) * c["arg"] + engine_tail,
        "ENGINE_RESPONSE": (c["a"] - answers) * e - stall + c["txmax"],
        "TX_START": 2 * resp_length + 14,
        "TX_SEND": 2 * (resp_length + 5 - position) + 3,
        "TX_FETCH": 2 * (resp_length + 5 - position) + 4,
        "DONE": 2,
        "COUNT": 1,
    }
    for name in RECEIVE_STATES:
        cases[name] = t - timer + c["tx"](2)     # idle: TIMEOUT / OVERSIZE answer
    assert set(cases) == set(link.states), set(link.states) ^ set(cases)
    value = 0
    for name, cost in cases.items():
        value = Mux(link.is_(name), cost, value)
    m.d.comb += work.eq(value)
    return work


def _ranges(m, link, c):
    """White-box invariants (asserted): the link's counters stay in the ranges its frame checks
    give them (a length field at most ``max_payload``, a LOAD/READ count that fits it, buffer
    pointers below the length, the response length at most ``max_payload``, timers below
    their limits)."""
    wb, t, mp = c["wb"], c["t"], c["mp"]
    (timer, length, pointer, remaining, position, resp_length, clear_index,
     header) = link.internal("timer", "length", "pointer", "remaining", "position",
                             "resp_length", "clear_index", "header")
    count = header[24:40]
    m.d.comb += Assert(clear_index < CLEAR)
    with m.If(link.is_(*RECEIVE_STATES)):
        m.d.comb += Assert(timer < t)
    with m.If(link.is_("PAYLOAD")):
        m.d.comb += Assert(pointer < length)
    with m.If(link.is_("PAYLOAD", "CRC_HI", "CRC_LO", "DECODE", "ENGINE_COMMAND", "CLEAR")):
        m.d.comb += Assert(length <= mp)
    with m.If(link.is_("LOAD_FETCH", "LOAD_BYTE", "LOAD_WRITE")):
        m.d.comb += Assert((remaining >= 1) & (remaining <= c["load_words"]))
    with m.If(link.is_("READ_COMMAND", "READ_WAIT", "READ_STORE")):
        m.d.comb += Assert((remaining >= 1) & (count * wb <= mp))
        m.d.comb += Assert(remaining <= count)
    if wb > 1:
        byte_index, = link.internal("byte_index")
        with m.If(link.is_("LOAD_FETCH", "LOAD_BYTE", "READ_STORE")):
            m.d.comb += Assert(byte_index < wb)
    with m.If(link.is_("ENGINE_COMMAND") | link.is_("CLEAR") & link.clear_then_engine):
        m.d.comb += Assert(pointer == 0)
    with m.If(link.is_("ENGINE_FETCH", "ENGINE_ARGUMENT")):
        m.d.comb += Assert((pointer < length) & (length <= mp))
    with m.If(link.is_("ENGINE_RESPONSE")):
        m.d.comb += Assert(pointer <= mp)
    with m.If(link.is_(*TX_STATES)):
        m.d.comb += Assert(resp_length <= mp)
    with m.If(link.is_("TX_SEND", "TX_FETCH")):
        m.d.comb += Assert(position <= resp_length + 5)
    with m.If(link.is_("TX_FETCH")):
        m.d.comb += Assert(position >= 1)


def _deadline(m, make, *, prop, covers=False, params=PARAMS, env=ENV):
    link = _Link(m, make)
    c = _costs(params, env)
    bound = c["decode"]
    stall, answers = _environment(m, link, env)
    _ranges(m, link, c)
    work = _work(m, link, stall, answers, c)
    # Clocks since the link last received a byte (while idle or inside a frame), saturating.
    since = Signal(range(bound + 1))
    received = link.take & link.is_("HUNT", *RECEIVE_STATES)
    with m.If(received):
        m.d.sync += since.eq(0)
    with m.Elif(since != bound):
        m.d.sync += since.eq(since + 1)
    # The variant drops in every clock without a received byte, and bounds the rest.
    last_work = Signal.like(work)
    counted = Signal()                          # the last clock had no received byte
    m.d.sync += [last_work.eq(work), counted.eq(~received)]
    with m.If(counted & (last_work != 0)):
        m.d.comb += Assert(work < last_work)
    m.d.comb += [Assert(work <= bound), Assert(since + work <= bound)]
    if prop == "idle":
        with m.If(since == bound):
            m.d.comb += Assert(link.is_("HUNT"))
    else:
        done, unanswered = _response_monitor(m, link)
        with m.If(unanswered != 0):
            m.d.comb += Assert(since <= answer_bound(params, env))
    if covers:
        dut = link.dut
        m.d.comb += Cover(dut.mem.cmd.valid & dut.mem.cmd.payload.write & dut.mem.cmd.ready)
        m.d.comb += Cover(dut.mem.rdata.valid & dut.mem.rdata.ready)    # a READ's word came
        m.d.comb += Cover(dut.engine.resp.valid & dut.engine.resp.ready
                          & dut.engine.resp.payload.last)               # an engine answered
        m.d.comb += Cover(link.is_("DONE"))                             # a response was sent


#: k-induction depths, the smallest that pass: with the invariants above every property is
#: 1-inductive except ``timeout`` (2). (The mutants run deeper base cases: their
#: counterexamples start after the 10 CLEAR clocks.)
DEPTH = dict(crc_gate=1, one_response=1, timeout=2, answer_deadline=1, idle_deadline=1)


#: A second configuration: 12-bit words travel as 2 bytes, so LOAD and READ run their byte
#: loops (``byte_index``), which one-byte words skip.
WIDE = PARAMS | dict(word_bits=12)


def _properties(prefix, params):
    """The five k-induction proofs of the link built with ``params``."""
    make = partial(_make, **params)
    bound = params["timeout_cycles"]
    e, a = ENV["handshake_cycles"], ENV["answer_bytes"]
    assuming = f"(o.ready high, handshakes within {e} clocks, answers <= {a} bytes)"
    words = "" if params is PARAMS else f" [{params['word_bits']}-bit words]"
    return [
        Proof(name=f"{prefix}crc_gate", block="link",
              prop=f"mem/engine driven only after a complete frame with a good CRC{words}",
              build=partial(Harness, _crc_gate, make), depth=DEPTH["crc_gate"]),
        Proof(name=f"{prefix}one_response", block="link",
              prop=f"responses: SYNC, good CRC, exactly one per accepted frame, in order{words}",
              build=partial(Harness, partial(_one_response, params=params), make),
              depth=DEPTH["one_response"]),
        Proof(name=f"{prefix}timeout", block="link",
              prop=f"inside a frame at most timeout_cycles ({bound}) idle clocks, then out"
                   f"{words}",
              build=partial(Harness, partial(_timeout, timeout_cycles=bound), make),
              depth=DEPTH["timeout"]),
        Proof(name=f"{prefix}answer_deadline", block="link",
              prop=f"an unanswered frame is answered within {answer_bound(params)} clocks of "
                   f"its last byte {assuming}{words}",
              build=partial(Harness, partial(_deadline, prop="answer", params=params), make),
              depth=DEPTH["answer_deadline"]),
        Proof(name=f"{prefix}idle_deadline", block="link",
              prop=f"{idle_bound(params)} clocks without a received byte => idle (HUNT), from "
                   f"any state {assuming}{words}",
              build=partial(Harness, partial(_deadline, prop="idle", params=params), make),
              depth=DEPTH["idle_deadline"]),
    ]


def proofs():
    bound = PARAMS["timeout_cycles"]
    wide = partial(_make, **WIDE)
    return _properties("link.", PARAMS) + [
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
        Proof(name="link.deadline_corners", block="link",
              prop="reachable under the liveness assumptions: a memory write, a READ's word, "
                   "an engine answer, a response sent",
              build=partial(Harness, partial(_deadline, prop="answer", covers=True), _make),
              mode="cover", depth=CLEAR + 24, timeout=1200),
    ] + _properties("link.w12.", WIDE) + [
        Proof(name="link.w12.deadline_corners", block="link",
              prop="reachable under the liveness assumptions, 12-bit words: a 2-byte LOAD "
                   "word written, a READ's word, an engine answer, a response sent",
              build=partial(Harness, partial(_deadline, prop="answer", covers=True,
                                             params=WIDE), wide),
              mode="cover", depth=CLEAR + 24, timeout=1200),
    ]


def _mutants(prefix, params):
    from fewmul.protocol import SYNC
    crc_gate, one_response, timeout, answer_deadline, idle_deadline = _properties(prefix,
                                                                                  params)
    make = partial(_make, **params)
    bound = params["timeout_cycles"]
    return [
        # The link checks the CRC of other bytes than it received (LSB of non-SYNC flipped).
        mutated(crc_gate, _crc_gate, make, "checks_other_bytes",
                inputs={"i.payload": lambda b: Mux(b == SYNC, b, b ^ 1)}, depth=CLEAR + 4),
        # The response stream claims bytes while the link sends nothing (valid stuck high).
        mutated(one_response, partial(_one_response, params=params), make, "valid_stuck_high",
                outputs={"o.valid": lambda v: 1}, depth=4),
        # The response's SYNC byte corrupted on the way out.
        mutated(one_response, partial(_one_response, params=params), make, "sync_corrupted",
                outputs={"o.payload": lambda b: Mux(b == SYNC, b ^ 1, b)}, depth=CLEAR + 10),
        # A link that waits twice as long as the proof's bound.
        mutated(timeout, partial(_timeout, timeout_cycles=bound),
                partial(make, timeout_cycles=2 * bound), "slow_timeout", depth=CLEAR + 8),
        # A transmitter that never sees the host's ready: the answer never completes (killed
        # by the variant: the link stops making progress).
        mutated(answer_deadline, partial(_deadline, prop="answer", params=params), make,
                "ready_ignored", inputs={"o.ready": lambda r: 0}, depth=CLEAR + 10),
        # A READ that never sees the memory's word: stuck, never idle again (the variant).
        mutated(idle_deadline, partial(_deadline, prop="idle", params=params), make,
                "rdata_ignored", inputs={"mem.rdata.valid": lambda v: 0}, depth=CLEAR + 16),
        # An idle timeout far above the bound (2^20 clocks): a truncated frame holds the link
        # (killed by the timer's range: the timer passes timeout_cycles).
        mutated(idle_deadline, partial(_deadline, prop="idle", params=params),
                partial(make, timeout_cycles=2**20), "no_timeout", depth=CLEAR + 8),
    ]


def mutants():
    return _mutants("link.", PARAMS) + _mutants("link.w12.", WIDE)
