"""The host link protocol (``docs/protocol.md``): everything the board and the host share.

Opcodes, error codes, counters, framing with its CRC, payload layouts, the table of legal request
lengths, the memory map and PING's answer. The gateware (``fewmul.hw.link``) and the host driver
(``fewmul.host``) both import this module and nothing of each other, so the two sides cannot
drift apart; the testbenches build every frame with :func:`encode_frame` and take their
expected answers from :func:`request_length`.

The CRC is the catalog's CRC-16/CCITT-FALSE (:data:`FRAME_CRC`, ``amaranth.lib.crc``): the host
computes it with ``FRAME_CRC.compute()``, the link with the hardware ``FRAME_CRC.create()``.
"""

import enum
import struct
from dataclasses import dataclass

from amaranth.lib.crc import catalog

__all__ = [
    "SYNC", "VERSION", "HEADER_BYTES", "TRAILER_BYTES", "RESPONSE_FLAG", "ERROR_OPCODE",
    "SEED_STREAMS", "MEMORY_HEADER_BYTES", "FRAME_CRC", "CRC_RESIDUE", "Opcode", "LINK_OPCODES",
    "ENGINE_OPCODES", "DATA_HEADER_BYTES", "data_records_per_frame", "ErrorCode", "Counter",
    "N_COUNTERS", "FIXED_REQUEST_LENGTHS",
    "request_length", "length_is_legal", "Frame", "LinkError", "crc16", "encode_frame",
    "FrameDecoder", "decode_frame", "word_bytes", "encode_words", "decode_words",
    "load_payload", "read_payload", "seed_payload", "LR_DETERMINISTIC", "lr_payload", "Region",
    "MAX_REGION_WORDS", "MAX_REGIONS", "region_rows", "memory_map", "layer_regions", "PingInfo",
]

#: First byte of every frame, both directions.
SYNC = 0xA5
#: Protocol version reported by PING.
VERSION = 1
#: SYNC, opcode, length (2 bytes, little-endian).
HEADER_BYTES = 4
#: CRC-16/CCITT-FALSE, most significant byte first.
TRAILER_BYTES = 2
#: A response to opcode ``op`` has opcode ``op | RESPONSE_FLAG``.
RESPONSE_FLAG = 0x80
#: Opcode of an error response; its payload is ``[request opcode, ErrorCode]``.
ERROR_OPCODE = 0xFF
#: Random-number streams loaded by SEED (``docs/datapath.md`` section 6), 4 bytes each.
SEED_STREAMS = 5
#: LOAD and READ payloads start with ``region (1), address (LE16), count (LE16)``.
MEMORY_HEADER_BYTES = 5

#: The frame CRC, CRC-16/CCITT-FALSE over bytes: polynomial 0x1021, initial value 0xFFFF, no
#: reflection, no final XOR; ``FRAME_CRC.compute(b"123456789") == 0x29B1``. An
#: ``amaranth.lib.crc.Parameters``: ``.compute(data)`` in software, ``.create()`` the link's
#: hardware ``Processor``.
FRAME_CRC = catalog.CRC16_CCITT_FALSE(8)
#: The CRC of a frame's covered bytes followed by their CRC (sent MSB first): a good frame's.
CRC_RESIDUE = FRAME_CRC.residue()


def crc16(data):
    """CRC-16/CCITT-FALSE of ``data`` (bytes or ints in [0, 255]): ``FRAME_CRC.compute``."""
    return FRAME_CRC.compute(bytes(data))


class Opcode(enum.IntEnum):
    """Request opcodes. PING, LOAD, READ and STATUS are served by the link itself; the others
    are forwarded to the engine (RESET also clears the link's counters)."""
    PING = 0x01
    LOAD = 0x02
    READ = 0x03
    STATUS = 0x04
    RESET = 0x05
    SEED = 0x06
    TRAIN = 0x07
    PREDICT = 0x08
    COUNTERS = 0x09
    LR = 0x0A
    DATA = 0x0B
    EPOCH = 0x0C


_OPCODES = frozenset(Opcode)
#: Opcodes the link serves itself.
LINK_OPCODES = (Opcode.PING, Opcode.LOAD, Opcode.READ, Opcode.STATUS)
#: Opcodes whose payload goes to the engine.
ENGINE_OPCODES = (Opcode.RESET, Opcode.SEED, Opcode.TRAIN, Opcode.PREDICT, Opcode.COUNTERS,
                  Opcode.LR, Opcode.DATA, Opcode.EPOCH)
#: DATA's header: ``address (LE16), count (LE16)``, then ``count`` records.
DATA_HEADER_BYTES = 4
#: LR's flag bit (bit 7 of its byte; the shift is bits 0-6): train the following steps with
#: deterministic signs (the settling phase, ``docs/datapath.md`` section 9). 0 (every LR frame
#: before the flag existed) keeps the stochastic signs.
LR_DETERMINISTIC = 0x80


def lr_payload(lr_shift, deterministic=False):
    """LR's one-byte payload: ``lr_shift`` (0 .. 127), ``LR_DETERMINISTIC`` if
    ``deterministic``."""
    if isinstance(lr_shift, bool) or not isinstance(lr_shift, int) or not 0 <= lr_shift < 0x80:
        raise ValueError(f"lr_shift must be an integer in [0, 127], not {lr_shift!r}")
    return bytes([lr_shift | (LR_DETERMINISTIC if deterministic else 0)])


#: The link's payload buffer unless a network's samples need more (``sample_payload_limit``).
DEFAULT_MAX_PAYLOAD = 256


def sample_payload_limit(sample_bytes, max_payload=None):
    """The link's ``max_payload`` for samples of ``sample_bytes`` pixels: ``max_payload`` as
    given, else :data:`DEFAULT_MAX_PAYLOAD` or the least that carries one DATA record (header,
    label, pixels; TRAIN's label and pixels are less), whichever is larger. A given value too
    small for one DATA record raises ``ValueError``."""
    need = DATA_HEADER_BYTES + 1 + sample_bytes
    if max_payload is None:
        return max(DEFAULT_MAX_PAYLOAD, need)
    if isinstance(max_payload, int) and not isinstance(max_payload, bool) and max_payload < need:
        raise ValueError(f"max_payload {max_payload} cannot carry a {sample_bytes}-input sample: "
                         f"a DATA frame of one record needs {need} payload bytes")
    return max_payload


def data_records_per_frame(sample_bytes, max_payload):
    """DATA records (a label byte and ``sample_bytes`` pixels each) one frame of at most
    ``max_payload`` payload bytes carries after its header; at least one."""
    return max(1, (max_payload - DATA_HEADER_BYTES) // (1 + sample_bytes))


class ErrorCode(enum.IntEnum):
    """Second payload byte of an error response (``0`` is success, never sent)."""
    OK = 0
    BAD_CRC = 1          #: the frame's CRC did not match
    UNKNOWN_OPCODE = 2   #: no such opcode
    TIMEOUT = 3          #: the line went idle inside a frame (truncated frame)
    OVERSIZE = 4         #: length field above the link's max_payload; rest discarded until idle
    BAD_LENGTH = 5       #: payload length wrong for the opcode (or count 0 / response too big)
    BAD_REGION = 6       #: LOAD/READ region (layer field) out of range
    BAD_ADDRESS = 7      #: LOAD/READ address + count beyond the region's depth
    BAD_STATE = 8        #: engine: command not allowed in its state (e.g. TRAIN before SEED)
    BAD_ARG = 9          #: engine: argument out of range (label, zero seed)


class Counter(enum.IntEnum):
    """Order of the 32-bit counters in a STATUS response: responses by code, then drops."""
    OK = 0
    BAD_CRC = 1
    UNKNOWN_OPCODE = 2
    TIMEOUT = 3
    OVERSIZE = 4
    BAD_LENGTH = 5
    BAD_REGION = 6
    BAD_ADDRESS = 7
    BAD_STATE = 8
    BAD_ARG = 9
    DROPPED_BYTES = 10   #: bytes that arrived while the link was executing or answering


N_COUNTERS = len(Counter)


# -- request lengths (docs/protocol.md table 4): the one source of what is legal -------------

#: Request payload length of every opcode whose length depends on nothing else: the link
#: answers BAD_LENGTH to any other length of these before it executes or forwards the frame.
FIXED_REQUEST_LENGTHS = {
    Opcode.PING: 0,
    Opcode.READ: MEMORY_HEADER_BYTES,
    Opcode.STATUS: 0,
    Opcode.RESET: 0,
    Opcode.SEED: 4 * SEED_STREAMS,
    Opcode.COUNTERS: 0,
    Opcode.LR: 1,
    Opcode.EPOCH: 8,
}


def request_length(opcode, *, sample_bytes=None, word_bits=None, count=None):
    """The one legal request payload length of ``opcode`` (``docs/protocol.md`` table 4).

    PING, STATUS, RESET, COUNTERS: 0; SEED: ``4 * SEED_STREAMS``; LR: 1; READ: 5; TRAIN:
    ``1 + sample_bytes``; PREDICT: ``sample_bytes`` (the engine's input layer, one byte per
    feature up to 8-bit activations); LOAD: ``5 + count * word_bytes(word_bits)``, for the
    ``count`` of its header; EPOCH: 8; DATA: ``4 + count * (1 + sample_bytes)``. ``count`` may
    be an Amaranth value (the link's LOAD check).
    """
    if opcode in FIXED_REQUEST_LENGTHS:
        return FIXED_REQUEST_LENGTHS[opcode]
    if opcode in (Opcode.TRAIN, Opcode.PREDICT):
        if sample_bytes is None:
            raise ValueError(f"the length of {Opcode(opcode).name} needs sample_bytes")
        label_bytes = 1 if opcode == Opcode.TRAIN else 0
        return label_bytes + sample_bytes
    if opcode == Opcode.LOAD:
        if word_bits is None or count is None:
            raise ValueError("the length of LOAD needs word_bits and count")
        return MEMORY_HEADER_BYTES + count * word_bytes(word_bits)
    if opcode == Opcode.DATA:
        if sample_bytes is None or count is None:
            raise ValueError("the length of DATA needs sample_bytes and count")
        return DATA_HEADER_BYTES + count * (1 + sample_bytes)
    raise ValueError(f"no request opcode 0x{int(opcode):02X}")


def length_is_legal(opcode, payload, *, sample_bytes, word_bits, max_payload):
    """Whether ``payload`` has a legal length for a request ``opcode`` (table 4 and table 5's
    BAD_LENGTH row: a LOAD or READ ``count`` of 0, or a READ answer above ``max_payload``, is
    a wrong length too). An unknown opcode has no legal length."""
    if opcode not in _OPCODES:
        return False
    count = (int.from_bytes(payload[3:5], "little")
             if len(payload) >= MEMORY_HEADER_BYTES else None)
    if opcode == Opcode.LOAD:
        return bool(count) and len(payload) == request_length(
            opcode, word_bits=word_bits, count=count)
    if opcode == Opcode.READ:
        return (len(payload) == request_length(opcode) and count != 0
                and count * word_bytes(word_bits) <= max_payload)
    if opcode == Opcode.DATA:
        if len(payload) < DATA_HEADER_BYTES:
            return False
        records = int.from_bytes(payload[2:4], "little")
        return bool(records) and len(payload) == request_length(
            opcode, sample_bytes=sample_bytes, count=records)
    return len(payload) == request_length(opcode, sample_bytes=sample_bytes)


# -- frames ---------------------------------------------------------------------------------

class LinkError(Exception):
    """The device answered with an error frame, or the answer was malformed or missing."""

    def __init__(self, message, code=None, opcode=None):
        super().__init__(message)
        self.code = code
        self.opcode = opcode


@dataclass(frozen=True)
class Frame:
    opcode: int
    payload: bytes

    def raise_for_error(self, request_opcode):
        """The payload of a successful response to ``request_opcode``, or :class:`LinkError`."""
        if self.opcode == ERROR_OPCODE:
            op, code = (self.payload + b"\0\0")[:2]
            try:
                name = ErrorCode(code).name
            except ValueError:
                name = f"code {code}"
            raise LinkError(f"{_op_name(request_opcode)} failed: {name}", code=code, opcode=op)
        if self.opcode != request_opcode | RESPONSE_FLAG:
            raise LinkError(f"{_op_name(request_opcode)}: unexpected response opcode "
                            f"0x{self.opcode:02X}", opcode=self.opcode)
        return self.payload


def _op_name(opcode):
    try:
        return Opcode(opcode).name
    except ValueError:
        return f"opcode 0x{opcode:02X}"


def encode_frame(opcode, payload=b""):
    """``SYNC, opcode, length (LE16), payload, CRC-16/CCITT-FALSE (MSB first)``.

    The CRC covers opcode, length and payload (not SYNC).
    """
    payload = bytes(payload)
    if not 0 <= opcode <= 0xFF:
        raise ValueError(f"opcode must be a byte, not {opcode!r}")
    if len(payload) > 0xFFFF:
        raise ValueError(f"payload must be at most 65535 bytes, not {len(payload)}")
    body = bytes([opcode]) + struct.pack("<H", len(payload)) + payload
    crc = crc16(body)
    return bytes([SYNC]) + body + bytes([crc >> 8, crc & 0xFF])


class FrameDecoder:
    """Incremental decoder of the frames the link sends (responses).

    Feed bytes with :meth:`feed`; it returns the frames completed so far. Bytes before a SYNC are
    skipped; a frame with a bad CRC raises :class:`LinkError` (a response is never corrupted on a
    healthy link, so there is no resynchronisation to attempt).
    """

    def __init__(self, max_payload=0xFFFF):
        self._max_payload = max_payload
        self._buffer = bytearray()

    @property
    def pending(self):
        """Bytes of an incomplete frame held."""
        return len(self._buffer)

    def feed(self, data):
        self._buffer += bytes(data)
        frames = []
        while True:
            start = self._buffer.find(SYNC)
            if start < 0:
                self._buffer.clear()
                return frames
            del self._buffer[:start]
            if len(self._buffer) < HEADER_BYTES:
                return frames
            length = self._buffer[2] | self._buffer[3] << 8
            if length > self._max_payload:
                raise LinkError(f"response length {length} above max_payload "
                                f"{self._max_payload}")
            total = HEADER_BYTES + length + TRAILER_BYTES
            if len(self._buffer) < total:
                return frames
            raw = bytes(self._buffer[:total])
            del self._buffer[:total]
            if crc16(raw[1:]) != CRC_RESIDUE:
                raise LinkError(f"response with a bad CRC: {raw.hex()}")
            frames.append(Frame(raw[1], raw[HEADER_BYTES:HEADER_BYTES + length]))


def decode_frame(raw):
    """The one :class:`Frame` in ``raw`` (exactly one frame, nothing else)."""
    decoder = FrameDecoder()
    frames = decoder.feed(raw)
    if len(frames) != 1 or decoder.pending:
        raise LinkError(f"expected exactly one frame in {bytes(raw).hex()}")
    return frames[0]


# -- payloads ---------------------------------------------------------------------------------

def word_bytes(word_bits):
    """Bytes per memory word on the wire: ``ceil(word_bits / 8)``."""
    return (word_bits + 7) // 8


def encode_words(words, word_bits):
    """Words (signed or unsigned ints) as little-endian ``word_bytes`` each, two's complement
    truncated to ``word_bits`` (upper bits of the last byte zero)."""
    nbytes, mask = word_bytes(word_bits), (1 << word_bits) - 1
    return b"".join((int(w) & mask).to_bytes(nbytes, "little") for w in words)


def decode_words(data, word_bits, signed=True):
    nbytes, mask = word_bytes(word_bits), (1 << word_bits) - 1
    if len(data) % nbytes:
        raise LinkError(f"{len(data)} bytes is not a whole number of {nbytes}-byte words")
    words = []
    for k in range(0, len(data), nbytes):
        w = int.from_bytes(data[k:k + nbytes], "little") & mask
        if signed and w >> (word_bits - 1):
            w -= 1 << word_bits
        words.append(w)
    return words


def load_payload(region, address, words, word_bits):
    """LOAD: ``region (1), address (LE16), count (LE16), count words``."""
    words = list(words)
    return struct.pack("<BHH", region, address, len(words)) + encode_words(words, word_bits)


def read_payload(region, address, count):
    """READ: ``region (1), address (LE16), count (LE16)``."""
    return struct.pack("<BHH", region, address, count)


def seed_payload(states):
    """SEED: the five xorshift32 states (``fewmul.golden.rng.seed_states``), LE32 each."""
    states = [int(s) for s in states]
    if len(states) != SEED_STREAMS:
        raise ValueError(f"SEED needs {SEED_STREAMS} states, not {len(states)}")
    return struct.pack(f"<{SEED_STREAMS}I", *states)


@dataclass(frozen=True)
class Region:
    """One region (the frames' "layer" field) of the engine's memory: the biases of ``layer``,
    or its weights of output rows ``row .. row + depth // N_layer - 1`` (row-major)."""
    index: int
    name: str
    layer: int
    depth: int
    bias: bool = False
    row: int = 0


#: Words one region can hold: LOAD and READ address a word with an LE16 field.
MAX_REGION_WORDS = 0xFFFF
#: Regions the frames' one-byte "layer" field can name.
MAX_REGIONS = 255


def region_rows(cfg, layer, region_words=MAX_REGION_WORDS):
    """Output rows of ``layer``'s weights a region holds: all of them if they fit
    ``region_words``, else the most multiples of ``cfg.array_rows`` (the engine's tile height,
    so that a region starts on a row tile) that do."""
    n_in, n_out = cfg.layers[layer], cfg.layers[layer + 1]
    if n_in * n_out <= region_words:
        return n_out
    rows = region_words // n_in // cfg.array_rows * cfg.array_rows
    if rows == 0:
        raise ValueError(
            f"layer {layer}'s rows of {n_in} inputs do not fit a region of {region_words:,} "
            f"words {cfg.array_rows} at a time (one row tile is {cfg.array_rows * n_in:,} "
            f"words): at most {region_words // cfg.array_rows:,} inputs")
    return rows


def memory_map(cfg, region_words=MAX_REGION_WORDS):
    """The engine's regions for a :class:`fewmul.config.Config`, layer by layer: its weights
    row-major (``w[i, j]`` at ``(i - row) * N_l + j`` of the region holding row ``i``; one
    region, or several of :func:`region_rows` rows each when they would exceed
    ``region_words``), then its biases. Every word is ``cfg.weight_bits`` wide. A layer that
    fits one region (every network up to 65,535 weights a layer) is regions ``2l`` and
    ``2l + 1``. Raises ``ValueError`` for a ``region_words`` outside ``[1, 65535]``, a row
    tile larger than a region, or more regions than a frame names."""
    if (isinstance(region_words, bool) or not isinstance(region_words, int)
            or not 1 <= region_words <= MAX_REGION_WORDS):
        raise ValueError(f"region_words must be an integer in [1, {MAX_REGION_WORDS}], "
                         f"not {region_words!r}")
    regions = []
    for layer, (n_in, n_out) in enumerate(zip(cfg.layers[:-1], cfg.layers[1:], strict=True)):
        rows = region_rows(cfg, layer, region_words)
        starts = range(0, n_out, rows)
        for part, row in enumerate(starts):
            name = f"w{layer}" if len(starts) == 1 else f"w{layer}.{part}"
            regions.append(Region(len(regions), name, layer,
                                  n_in * (min(n_out, row + rows) - row), row=row))
        regions.append(Region(len(regions), f"b{layer}", layer, n_out, bias=True))
    if len(regions) > MAX_REGIONS:
        raise ValueError(f"the network needs {len(regions)} memory regions, more than a frame "
                         f"names ({MAX_REGIONS})")
    return regions


def layer_regions(cfg, depths):
    """``[(weight regions, bias region), ...]`` per layer of ``cfg``, read from a PING's region
    ``depths``: each layer's weight regions are whole rows in order and sum to ``N x M`` words,
    its bias region ``M`` words. Raises ``ValueError`` if the depths are not such a map."""
    def not_a_map(where):
        return ValueError(f"region depths {list(depths)} are not a map of a "
                          f"{'-'.join(map(str, cfg.layers))} MLP ({where})")
    out, index = [], 0
    for layer, (n_in, n_out) in enumerate(zip(cfg.layers[:-1], cfg.layers[1:], strict=True)):
        weights, row = [], 0
        while row < n_out:
            if index >= len(depths) or depths[index] == 0 or depths[index] % n_in:
                raise not_a_map(f"layer {layer}")
            weights.append(Region(index, f"w{layer}", layer, depths[index], row=row))
            row, index = row + depths[index] // n_in, index + 1
        if row != n_out or index >= len(depths) or depths[index] != n_out:
            raise not_a_map(f"layer {layer}")
        out.append((weights, Region(index, f"b{layer}", layer, n_out, bias=True)))
        index += 1
    if index != len(depths):
        raise not_a_map(f"{len(depths) - index} more")
    return out


@dataclass(frozen=True)
class PingInfo:
    version: int
    word_bits: int
    max_payload: int
    depths: tuple

    @classmethod
    def parse(cls, payload):
        if len(payload) < 5:
            raise LinkError(f"PING response too short: {payload.hex()}")
        version, word_bits, max_payload, n_regions = struct.unpack("<BBHB", payload[:5])
        depths = struct.unpack(f"<{n_regions}H", payload[5:5 + 2 * n_regions])
        return cls(version, word_bits, max_payload, depths)

    def encode(self):
        return (struct.pack("<BBHB", self.version, self.word_bits, self.max_payload,
                            len(self.depths)) + struct.pack(f"<{len(self.depths)}H", *self.depths))
