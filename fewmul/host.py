"""Host driver of the fewmul link: the command API and its transports.

The wire protocol (opcodes, framing, CRC, payloads, memory map) is :mod:`fewmul.protocol`, shared
with the gateware; this module is the host side only, in two layers, as in Glasgow's host
software:

- :class:`Device`, the command API (ping, load/read words, load/read a network, seed, train,
  predict, status, counters, reset, learning rate) over any transport with
  ``exchange(frame) -> Frame``, and :class:`AsyncDevice`, the same API with ``await``;
- :class:`SerialTransport` (pyserial: a board's UART). A cocotb simulation uses
  ``fewmul.sim.stream_transport.CocotbStreamTransport`` (bytes straight into the link's stream
  ports) with :class:`AsyncDevice`; the driver itself needs no simulator.
"""

import struct

from fewmul.protocol import (
    VERSION,
    Counter,
    FrameDecoder,
    LinkError,
    Opcode,
    PingInfo,
    data_records_per_frame,
    decode_words,
    encode_frame,
    layer_regions,
    load_payload,
    lr_payload,
    read_payload,
    seed_payload,
    word_bytes,
)

__all__ = ["Device", "AsyncDevice", "SerialTransport"]


# -- command API ------------------------------------------------------------------------------

class _Commands:
    """Sans-IO command layer: each command is a generator that yields request frames (bytes)
    and receives response :class:`Frame`s; :class:`Device` and :class:`AsyncDevice` drive it."""

    def __init__(self, word_bits=None, max_payload=None):
        self.word_bits = word_bits
        self.max_payload = max_payload
        self.depths = None                  # region depths, from PING

    def _call(self, opcode, payload=b""):
        frame = yield encode_frame(opcode, payload)
        return frame.raise_for_error(opcode)

    def ping(self):
        info = PingInfo.parse((yield from self._call(Opcode.PING)))
        if info.version != VERSION:
            raise LinkError(f"device speaks protocol version {info.version}, not {VERSION}")
        self.word_bits, self.max_payload = info.word_bits, info.max_payload
        self.depths = info.depths
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
        """Load every layer's weights (``M x N`` integer arrays) and biases (``M`` vectors), in
        the regions the PING's depths give (``fewmul.protocol.layer_regions``)."""
        layout = yield from self._layout(cfg)
        for (parts, bias), w, b in zip(layout, weights, biases, strict=True):
            flat = [int(v) for v in _flatten(w)]
            start = 0
            for part in parts:
                yield from self.load(part.index, 0, flat[start:start + part.depth])
                start += part.depth
            yield from self.load(bias.index, 0, [int(v) for v in b])

    def read_network(self, cfg):
        """``(weights, biases)`` as lists of row lists and lists, read back from the device."""
        weights, biases = [], []
        layout = yield from self._layout(cfg)
        for (parts, bias), n_in in zip(layout, cfg.layers, strict=False):
            flat = []
            for part in parts:
                flat += yield from self.read(part.index, 0, part.depth)
            weights.append([flat[i * n_in:(i + 1) * n_in] for i in range(bias.depth)])
            biases.append((yield from self.read(bias.index, 0, bias.depth)))
        return weights, biases

    def _layout(self, cfg):
        if self.depths is None:
            yield from self.ping()
        return layer_regions(cfg, self.depths)

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

    def set_lr(self, lr_shift, deterministic=False):
        """Learning rate ``2^-lr_shift`` of the following TRAINs (``Config.lr_shifts``), with
        deterministic signs if ``deterministic`` (the settling phase)."""
        return (yield from self._call(Opcode.LR, lr_payload(lr_shift, deterministic)))

    def data(self, address, samples, labels):
        """Upload ``samples`` with ``labels`` to the on-chip data set from ``address`` on, in
        as many DATA frames as ``max_payload`` allows."""
        yield from self._need_ping()
        samples, labels = [_sample_bytes(x) for x in samples], [int(v) for v in labels]
        if len(samples) != len(labels):
            raise ValueError(f"{len(samples)} samples but {len(labels)} labels")
        per_frame = data_records_per_frame(len(samples[0]) if samples else 0, self.max_payload)
        for k in range(0, len(samples), per_frame):
            chunk = range(k, min(k + per_frame, len(samples)))
            payload = struct.pack("<HH", address + k, len(chunk)) + b"".join(
                bytes([labels[n]]) + samples[n] for n in chunk)
            yield from self._call(Opcode.DATA, payload)

    def epoch(self, size, count, key):
        """Train ``count`` samples of the on-chip data set's first ``size``, in the order of
        ``fewmul.golden.order.epoch_order(size, key)``; returns the EPOCH answer as
        ``{"correct", "cycles", "clips"}``."""
        data = yield from self._call(Opcode.EPOCH, struct.pack("<HHI", size, count, key))
        words = struct.unpack(f"<{len(data) // 4}I", data[:len(data) // 4 * 4])
        return {"correct": words[0], "cycles": words[1], "clips": list(words[2:])}


def _flatten(rows):
    return [v for row in rows for v in row]


def _sample_bytes(sample):
    if isinstance(sample, bytes | bytearray):
        return bytes(sample)
    return bytes(int(v) & 0xFF for v in sample)


class Device:
    """Blocking command API over ``transport`` (anything with ``exchange(frame) -> Frame``).

    Each method runs one command of the sans-IO layer through :meth:`_run`; a failed command
    raises :class:`fewmul.protocol.LinkError` with the device's ``ErrorCode``.
    :class:`AsyncDevice` overrides :meth:`_run` only, so both share these methods.
    """

    def __init__(self, transport):
        self.transport = transport
        self._commands = _Commands()

    def _run(self, command):
        """Drive the generator ``command``: each request it yields goes through the transport,
        the response goes back in; its return value is the command's result."""
        try:
            request = next(command)
            while True:
                request = command.send(self.transport.exchange(request))
        except StopIteration as stop:
            return stop.value

    def ping(self):
        """The device's :class:`fewmul.protocol.PingInfo` (checks the protocol version)."""
        return self._run(self._commands.ping())

    def load(self, region, address, words):
        """Write ``words`` at ``address`` of ``region``, in as many LOAD frames as needed."""
        return self._run(self._commands.load(region, address, words))

    def read(self, region, address, count, signed=True):
        """``count`` words from ``address`` of ``region`` (several READ frames if needed)."""
        return self._run(self._commands.read(region, address, count, signed))

    def load_network(self, cfg, weights, biases):
        """Load every layer's weights (``M x N`` integer arrays) and biases (``M`` vectors)."""
        return self._run(self._commands.load_network(cfg, weights, biases))

    def read_network(self, cfg):
        """``(weights, biases)`` as lists of row lists and lists, read back from the device."""
        return self._run(self._commands.read_network(cfg))

    def status(self):
        """The link's counters as ``{Counter: value}``."""
        return self._run(self._commands.status())

    def reset(self):
        """RESET: the engine forgets its seed and counters; the link zeroes its counters."""
        return self._run(self._commands.reset())

    def seed(self, states):
        """SEED the five random streams (``fewmul.golden.rng.seed_states``)."""
        return self._run(self._commands.seed(states))

    def train(self, sample, label):
        """One training step; the engine's answer (fewmul: the predicted class)."""
        return self._run(self._commands.train(sample, label))

    def predict(self, sample):
        """The engine's answer to PREDICT (fewmul: class, then scores)."""
        return self._run(self._commands.predict(sample))

    def counters(self):
        """The engine's COUNTERS answer (raw bytes)."""
        return self._run(self._commands.counters())

    def set_lr(self, lr_shift, deterministic=False):
        """Learning rate ``2^-lr_shift`` of the following TRAINs (``Config.lr_shifts``), with
        deterministic signs if ``deterministic`` (the settling phase)."""
        return self._run(self._commands.set_lr(lr_shift, deterministic))

    def data(self, address, samples, labels):
        """Upload samples and labels to the on-chip data set (several DATA frames)."""
        return self._run(self._commands.data(address, samples, labels))

    def epoch(self, size, count, key):
        """One EPOCH command: ``{"correct", "cycles", "clips"}``."""
        return self._run(self._commands.epoch(size, count, key))


class AsyncDevice(Device):
    """The same API with ``await``, over a transport whose ``exchange`` is a coroutine."""

    async def _run(self, command):
        try:
            request = next(command)
            while True:
                request = command.send(await self.transport.exchange(request))
        except StopIteration as stop:
            return stop.value


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
