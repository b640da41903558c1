"""Host side of the fewmul link: framing, the command API, and its transports.

The wire protocol is specified in ``docs/protocol.md``; this module is its single Python
implementation. The hardware (``fewmul.hw.link``) takes its opcodes, error codes and limits from
here, and the testbenches build every frame with :func:`encode_frame`, so host, tests and RTL
cannot drift apart.

Three layers, as in Glasgow's host software:

- framing: :func:`encode_frame`, :class:`FrameDecoder` (bytes -> :class:`Frame`), payload
  builders (:func:`load_payload`, :func:`read_payload`, ...);
- :class:`Device`, the command API (ping, load/read words, load/read a network, seed, train,
  predict, status, counters, reset) over any transport with ``exchange(frame) -> Frame``;
- transports: :class:`SerialTransport` (pyserial, a real board) and
  :class:`CocotbStreamTransport` (bytes straight into the link's stream ports in a cocotb
  simulation; use it through :class:`AsyncDevice`).
"""

import enum
import struct
from dataclasses import dataclass

from fewmul.golden.crc import crc16

__all__ = [
    "SYNC", "VERSION", "HEADER_BYTES", "TRAILER_BYTES", "ERROR_OPCODE", "RESPONSE_FLAG",
    "SEED_STREAMS", "Opcode", "ErrorCode", "Counter", "Frame", "LinkError", "FrameDecoder",
    "encode_frame", "decode_frame", "word_bytes", "load_payload", "read_payload",
    "seed_payload", "encode_words", "decode_words", "memory_map", "Region", "PingInfo",
    "Device", "AsyncDevice", "SerialTransport", "CocotbStreamTransport",
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


#: Opcodes whose payload goes to the engine.
ENGINE_OPCODES = (Opcode.RESET, Opcode.SEED, Opcode.TRAIN, Opcode.PREDICT, Opcode.COUNTERS,
                  Opcode.LR, Opcode.DATA, Opcode.EPOCH)


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
            if crc16(raw[1:]) != 0:
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
    """One region (the frames' "layer" field) of the engine's memory."""
    index: int
    name: str
    layer: int
    depth: int


def memory_map(cfg):
    """The engine's regions for a :class:`fewmul.config.Config`: for layer ``l``, region ``2l``
    holds its weights row-major (``w[i, j]`` at ``i * N_l + j``), region ``2l + 1`` its biases.
    Every word is ``cfg.weight_bits`` wide."""
    regions = []
    for layer, (n_in, n_out) in enumerate(zip(cfg.layers[:-1], cfg.layers[1:], strict=True)):
        regions.append(Region(2 * layer, f"w{layer}", layer, n_in * n_out))
        regions.append(Region(2 * layer + 1, f"b{layer}", layer, n_out))
    return regions


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


# -- command API ------------------------------------------------------------------------------

class _Commands:
    """Sans-IO command layer: each command is a generator that yields request frames (bytes)
    and receives response :class:`Frame`s; :class:`Device` and :class:`AsyncDevice` drive it."""

    def __init__(self, word_bits=None, max_payload=None):
        self.word_bits = word_bits
        self.max_payload = max_payload

    def _call(self, opcode, payload=b""):
        frame = yield encode_frame(opcode, payload)
        return frame.raise_for_error(opcode)

    def ping(self):
        info = PingInfo.parse((yield from self._call(Opcode.PING)))
        if info.version != VERSION:
            raise LinkError(f"device speaks protocol version {info.version}, not {VERSION}")
        self.word_bits, self.max_payload = info.word_bits, info.max_payload
        return info

    def _need_ping(self):
        if self.word_bits is None:
            yield from self.ping()

    def load(self, region, address, words):
        """Write ``words`` at ``address`` of ``region``, in as many LOAD frames as needed."""
        yield from self._need_ping()
        words = list(words)
        per_frame = (self.max_payload - 5) // word_bytes(self.word_bits)
        for k in range(0, len(words), per_frame):
            chunk = words[k:k + per_frame]
            yield from self._call(Opcode.LOAD, load_payload(region, address + k, chunk,
                                                            self.word_bits))

    def read(self, region, address, count, signed=True):
        """``count`` words from ``address`` of ``region`` (several READ frames if needed)."""
        yield from self._need_ping()
        per_frame = self.max_payload // word_bytes(self.word_bits)
        words = []
        for k in range(0, count, per_frame):
            n = min(per_frame, count - k)
            data = yield from self._call(Opcode.READ, read_payload(region, address + k, n))
            words += decode_words(data, self.word_bits, signed)
        return words

    def load_network(self, cfg, weights, biases):
        """Load every layer's weights (``M x N`` integer arrays) and biases (``M`` vectors)."""
        regions = memory_map(cfg)
        for layer, (w, b) in enumerate(zip(weights, biases, strict=True)):
            yield from self.load(regions[2 * layer].index, 0, [int(v) for v in
                                                               _flatten(w)])
            yield from self.load(regions[2 * layer + 1].index, 0, [int(v) for v in b])

    def read_network(self, cfg):
        """``(weights, biases)`` as lists of row lists and lists, read back from the device."""
        weights, biases = [], []
        for layer, (n_in, n_out) in enumerate(zip(cfg.layers[:-1], cfg.layers[1:],
                                                  strict=True)):
            flat = yield from self.read(2 * layer, 0, n_in * n_out)
            weights.append([flat[i * n_in:(i + 1) * n_in] for i in range(n_out)])
            biases.append((yield from self.read(2 * layer + 1, 0, n_out)))
        return weights, biases

    def status(self):
        """The link's counters as ``{Counter: value}``."""
        data = yield from self._call(Opcode.STATUS)
        values = struct.unpack(f"<{len(data) // 4}I", data[:len(data) // 4 * 4])
        return {c: v for c, v in zip(Counter, values, strict=False)}

    def reset(self):
        return (yield from self._call(Opcode.RESET))

    def seed(self, states):
        return (yield from self._call(Opcode.SEED, seed_payload(states)))

    def train(self, sample, label):
        """One training step on ``sample`` (activation bytes) with class ``label``; returns the
        engine's answer payload (the fewmul engine: the predicted class, ``docs/protocol.md``)."""
        return (yield from self._call(Opcode.TRAIN, bytes([label]) + _sample_bytes(sample)))

    def predict(self, sample):
        return (yield from self._call(Opcode.PREDICT, _sample_bytes(sample)))

    def counters(self):
        return (yield from self._call(Opcode.COUNTERS))

    def set_lr(self, lr_shift):
        """Learning rate ``2^-lr_shift`` of the following TRAINs (``Config.lr_shifts``)."""
        return (yield from self._call(Opcode.LR, bytes([lr_shift])))

    def data(self, address, samples, labels):
        """Upload ``samples`` (activation bytes each) with ``labels`` to the on-chip data set
        from sample ``address`` on, in as many DATA frames as ``max_payload`` allows."""
        yield from self._need_ping()
        samples, labels = list(samples), [int(v) for v in labels]
        if len(samples) != len(labels):
            raise ValueError(f"{len(samples)} samples but {len(labels)} labels")
        record = 1 + len(_sample_bytes(samples[0])) if samples else 1
        per_frame = max(1, (self.max_payload - 4) // record)
        for k in range(0, len(samples), per_frame):
            chunk = range(k, min(k + per_frame, len(samples)))
            payload = struct.pack("<HH", address + k, len(chunk)) + b"".join(
                bytes([labels[n]]) + _sample_bytes(samples[n]) for n in chunk)
            yield from self._call(Opcode.DATA, payload)

    def epoch(self, size, count, key):
        """Train ``count`` samples of the on-chip data set's first ``size`` in the order of
        ``key`` (``fewmul.golden.order.epoch_order``); returns ``{"correct", "cycles",
        "clips"}`` of the command."""
        data = yield from self._call(Opcode.EPOCH, struct.pack("<HHI", size, count, key))
        words = struct.unpack(f"<{len(data) // 4}I", data[:len(data) // 4 * 4])
        return {"correct": words[0], "cycles": words[1], "clips": list(words[2:])}


def _flatten(rows):
    return [v for row in rows for v in row]


def _sample_bytes(sample):
    if isinstance(sample, bytes | bytearray):
        return bytes(sample)
    return bytes(int(v) & 0xFF for v in sample)


_API = ("ping", "load", "read", "load_network", "read_network", "status", "reset", "seed",
        "train", "predict", "counters", "set_lr", "data", "epoch")


class Device:
    """Blocking command API over ``transport`` (anything with ``exchange(frame) -> Frame``).

    Methods: ``ping()``, ``load(region, address, words)``, ``read(region, address, count)``,
    ``load_network(cfg, weights, biases)``, ``read_network(cfg)``, ``status()``, ``reset()``,
    ``seed(states)``, ``train(sample, label)``, ``predict(sample)``, ``counters()``. A failed
    command raises :class:`LinkError` with the device's :class:`ErrorCode`.
    """

    def __init__(self, transport):
        self.transport = transport
        self._commands = _Commands()

    def __getattr__(self, name):
        if name not in _API:
            raise AttributeError(name)
        method = getattr(self._commands, name)

        def run(*args, **kwargs):
            gen = method(*args, **kwargs)
            try:
                request = next(gen)
                while True:
                    request = gen.send(self.transport.exchange(request))
            except StopIteration as stop:
                return stop.value
        run.__name__ = name
        return run


class AsyncDevice(Device):
    """The same API with ``await``, over a transport whose ``exchange`` is a coroutine."""

    def __getattr__(self, name):
        if name not in _API:
            raise AttributeError(name)
        method = getattr(self._commands, name)

        async def run(*args, **kwargs):
            gen = method(*args, **kwargs)
            try:
                request = next(gen)
                while True:
                    request = gen.send(await self.transport.exchange(request))
            except StopIteration as stop:
                return stop.value
        run.__name__ = name
        return run


# -- transports -------------------------------------------------------------------------------

class SerialTransport:
    """A board's UART through pyserial: ``SerialTransport("/dev/ttyUSB1", 115200)``.

    Stop-and-wait: :meth:`exchange` writes one frame and reads until one response frame is
    complete or ``timeout`` seconds pass (then :class:`LinkError`).
    """

    def __init__(self, port, baudrate=115200, timeout=2.0, **serial_kwargs):
        import serial
        self.serial = serial.serial_for_url(port, baudrate=baudrate, timeout=timeout,
                                            **serial_kwargs)
        self.timeout = timeout

    def exchange(self, request):
        import time
        decoder = FrameDecoder()
        self.serial.reset_input_buffer()
        self.serial.write(request)
        self.serial.flush()
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            data = self.serial.read(max(1, self.serial.in_waiting))
            frames = decoder.feed(data)
            if frames:
                return frames[0]
        raise LinkError(f"no response within {self.timeout} s")

    def close(self):
        self.serial.close()


class CocotbStreamTransport:
    """Frames straight into a link's byte streams in a cocotb simulation (no UART: fast).

    ``dut`` is the simulated top; ``i`` and ``o`` name its request and response stream ports
    (``<i>__valid``, ``<i>__payload``, ``<i>__ready`` and the same for ``o``). The link must be
    clocked by ``dut.clk``. :meth:`exchange` (a coroutine) sends the frame one byte per clock,
    then collects one response frame within ``max_cycles`` clocks.
    """

    def __init__(self, dut, *, i="i", o="o", max_cycles=100_000):
        self.dut = dut
        self._i = {k: getattr(dut, f"{i}__{k}") for k in ("valid", "payload", "ready")}
        self._o = {k: getattr(dut, f"{o}__{k}") for k in ("valid", "payload", "ready")}
        self.max_cycles = max_cycles
        self._i["valid"].value = 0
        self._o["ready"].value = 1

    async def exchange(self, request):
        from cocotb.triggers import FallingEdge

        def level(signal):
            value = signal.value
            return int(value) if value.is_resolvable else 0

        decoder = FrameDecoder()
        pending = list(request)
        for _ in range(self.max_cycles):
            # At a falling edge the registered outputs hold what the next rising edge samples;
            # ``i.ready`` must not depend combinationally on ``i.valid`` (the link's never does).
            taken = bool(pending) and level(self._i["ready"])
            self._i["valid"].value = int(bool(pending))
            if pending:
                self._i["payload"].value = pending[0]
            self._o["ready"].value = 1
            out = int(self._o["payload"].value) if level(self._o["valid"]) else None
            await FallingEdge(self.dut.clk)
            if taken:
                pending.pop(0)
            if out is not None and (frames := decoder.feed([out])):
                self._i["valid"].value = 0
                for _ in range(3):                       # let the link return to its idle state
                    await FallingEdge(self.dut.clk)
                return frames[0]
        self._i["valid"].value = 0
        raise LinkError(f"no response within {self.max_cycles} cycles")
