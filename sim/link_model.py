"""Transaction-level model of ``fewmul.sim.link_harness.LinkSystem`` (link + stub memory + stub
engine).

Byte-exact: :meth:`LinkModel.feed` takes one request byte and returns the response frame the
hardware sends once that byte completes a frame (or ``None``); :meth:`LinkModel.idle` is the
line going quiet for ``timeout_cycles``. Responses are built with ``fewmul.protocol.encode_frame``
(the driver's one encoder). The fuzz testbench keeps it in lock step with the RTL, so it also
predicts every counter of STATUS and every word of the memory.
"""

import struct

from fewmul.protocol import (
    CRC_RESIDUE,
    ERROR_OPCODE,
    N_COUNTERS,
    RESPONSE_FLAG,
    SYNC,
    VERSION,
    Counter,
    ErrorCode,
    Opcode,
    PingInfo,
    crc16,
    encode_frame,
    length_is_legal,
    word_bytes,
)

__all__ = ["LinkModel"]

_KNOWN_OPCODES = frozenset(Opcode)


class LinkModel:
    def __init__(self, *, word_bits, depths, max_payload, sample_bytes, n_classes):
        self.word_bits = word_bits
        self.depths = tuple(depths)
        self.max_payload = max_payload
        self.sample_bytes = sample_bytes
        self.n_classes = n_classes
        self.memory = [[0] * d for d in self.depths]
        self.counters = [0] * N_COUNTERS
        self.seeded = False
        self.steps = 0
        self.predictions = 0
        self.state = "HUNT"
        self.frame = bytearray()
        self.length = 0

    @property
    def receiving(self):
        """Inside a frame: idling now would time it out (or end an oversized one)."""
        return self.state != "HUNT"

    # -- bytes in ---------------------------------------------------------------------------
    def feed(self, byte):
        if self.state == "HUNT":
            if byte == SYNC:
                self.state, self.frame = "FRAME", bytearray()
            return None
        if self.state == "DISCARD":
            return None
        self.frame.append(byte)
        if len(self.frame) == 3:
            self.length = self.frame[1] | self.frame[2] << 8
            if self.length > self.max_payload:
                self.state = "DISCARD"
                return None
        if len(self.frame) == 3 + self.length + 2:
            self.state = "HUNT"
            if crc16(self.frame) != CRC_RESIDUE:
                return self._error(ErrorCode.BAD_CRC)
            return self._execute(self.frame[0], bytes(self.frame[3:3 + self.length]))
        return None

    def idle(self):
        """The line idles for ``timeout_cycles``."""
        if self.state == "HUNT":
            return None
        code = ErrorCode.OVERSIZE if self.state == "DISCARD" else ErrorCode.TIMEOUT
        self.state = "HUNT"
        return self._error(code)

    def drop(self, n):
        """``n`` bytes arrived while the link was executing or answering a frame."""
        self.counters[Counter.DROPPED_BYTES] = (self.counters[Counter.DROPPED_BYTES] + n) \
            & 0xFFFF_FFFF

    # -- responses --------------------------------------------------------------------------
    def _opcode(self):
        return self.frame[0] if self.frame else 0

    def _error(self, code):
        response = encode_frame(ERROR_OPCODE, bytes([self._opcode(), code]))
        if code < Counter.DROPPED_BYTES:
            self.counters[code] = (self.counters[code] + 1) & 0xFFFF_FFFF
        return response

    def _ok(self, opcode, payload=b""):
        response = encode_frame(opcode | RESPONSE_FLAG, payload)
        self.counters[Counter.OK] = (self.counters[Counter.OK] + 1) & 0xFFFF_FFFF
        return response

    def _execute(self, opcode, payload):
        if opcode not in _KNOWN_OPCODES:
            return self._error(ErrorCode.UNKNOWN_OPCODE)
        if not length_is_legal(opcode, payload, sample_bytes=self.sample_bytes,
                               word_bits=self.word_bits, max_payload=self.max_payload):
            return self._error(ErrorCode.BAD_LENGTH)
        if opcode == Opcode.PING:
            info = PingInfo(VERSION, self.word_bits, self.max_payload, self.depths)
            return self._ok(opcode, info.encode())
        if opcode == Opcode.STATUS:
            return self._ok(opcode, struct.pack(f"<{N_COUNTERS}I", *self.counters))
        if opcode in (Opcode.LOAD, Opcode.READ):
            return self._memory(opcode, payload)
        if opcode == Opcode.RESET:
            self.counters = [0] * N_COUNTERS
        status, answer = self._engine(opcode, payload)
        if status:
            return self._error(status)
        return self._ok(opcode, answer)

    def _memory(self, opcode, payload):
        wb = word_bytes(self.word_bits)
        region, address, count = struct.unpack("<BHH", payload[:5])
        if region >= len(self.depths):
            return self._error(ErrorCode.BAD_REGION)
        if address + count > self.depths[region]:
            return self._error(ErrorCode.BAD_ADDRESS)
        mask = (1 << self.word_bits) - 1
        words = self.memory[region]
        if opcode == Opcode.LOAD:
            for k in range(count):
                raw = int.from_bytes(payload[5 + k * wb:5 + (k + 1) * wb], "little")
                words[address + k] = raw & mask
            return self._ok(opcode)
        return self._ok(opcode, b"".join(words[address + k].to_bytes(wb, "little")
                                         for k in range(count)))

    def _engine(self, opcode, payload):
        """The stub engine (``fewmul.sim.stub_engine.StubEngine``) on a frame whose length the
        link has checked: ``(status, answer)``."""
        n = len(payload)
        if opcode == Opcode.RESET:
            self.seeded, self.steps, self.predictions = False, 0, 0
            return ErrorCode.OK, b""
        if opcode == Opcode.SEED:
            if any(payload[k:k + 4] == b"\0\0\0\0" for k in range(0, n, 4)):
                return ErrorCode.BAD_ARG, b""
            self.seeded = True
            return ErrorCode.OK, b""
        if opcode == Opcode.TRAIN:
            if not self.seeded:
                return ErrorCode.BAD_STATE, b""
            if payload[0] >= self.n_classes:
                return ErrorCode.BAD_ARG, b""
            self.steps = (self.steps + 1) & 0xFFFF_FFFF
            return ErrorCode.OK, bytes([sum(payload[1:]) & 0xFF])
        if opcode == Opcode.PREDICT:
            self.predictions = (self.predictions + 1) & 0xFFFF_FFFF
            return ErrorCode.OK, bytes([sum(payload) & 0xFF])
        if opcode != Opcode.COUNTERS:                   # the stub has no learning rate (LR)
            return ErrorCode.BAD_ARG, b""
        return ErrorCode.OK, struct.pack("<II", self.steps, self.predictions)
