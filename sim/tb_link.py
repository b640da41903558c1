"""cocotb testbench: ``fewmul.sim.link_harness.LinkSystem`` against ``fewmul.sim.link_model``
and against the spec.

Scenarios (all at the stream level, no UART, one byte per clock), in this order (the memory
is not reset between them):

- ``fuzz``: ``frames`` (x ``FEWMUL_VOLUME``) random valid and mutated frames (bit flips,
  truncation, bad CRC, unknown opcodes, oversized and wrong lengths, noise) with random idle
  gaps and response back-pressure. The driver stays in lock step with the byte-exact model:
  each byte goes in, and when the model says a frame is complete (or the line idles inside one)
  the driver stops and waits for the response, which must arrive within a bounded number of
  cycles (no hang) and equal the model's byte for byte. Every response to a complete frame is
  also checked against the spec alone (:class:`SpecOracle`: ``fewmul.protocol``'s table of
  request lengths, not the model). Then bytes sent while the link answers must be dropped and
  counted; at the end every memory word and every counter is read back and compared (no state
  corruption).
- ``request_lengths``: every opcode at its legal and at wrong lengths against the spec, and a
  RESET with a payload or a bad CRC refused without resetting anything.
- ``host_api``: the real host driver (``fewmul.host.AsyncDevice`` over
  ``fewmul.sim.stream_transport.CocotbStreamTransport``) pings, loads and reads back a network,
  seeds, trains, predicts, reads counters and status, resets, and gets the right ``LinkError``
  codes.
"""

import random
import struct

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, First, ReadOnly, RisingEdge, Timer

from fewmul.config import Config
from fewmul.golden.rng import seed_states
from fewmul.host import AsyncDevice
from fewmul.protocol import (
    CRC_RESIDUE,
    ERROR_OPCODE,
    RESPONSE_FLAG,
    SEED_STREAMS,
    SYNC,
    Counter,
    ErrorCode,
    LinkError,
    Opcode,
    crc16,
    data_records_per_frame,
    decode_frame,
    encode_frame,
    length_is_legal,
    load_payload,
    memory_map,
    read_payload,
    request_length,
    word_bytes,
)
from fewmul.sim.link_model import LinkModel
from fewmul.sim.runner import testbench_params, volume
from fewmul.sim.stream_transport import CocotbStreamTransport


def level(signal):
    value = signal.value
    return int(value) if value.is_resolvable else 0


async def start(dut, autoplay=0):
    """Clock, reset, and every input of ``fewmul.sim.link_harness.LinkHarness`` at a known
    value."""
    dut.i__valid.value = 0
    dut.i__payload.value = 0
    dut.o__ready.value = 1
    dut.autoplay.value = autoplay
    for name in ("play_data", "play_length", "play_sequence", "gap_threshold",
                 "stall_threshold", "record_target"):
        getattr(dut, name).value = 0
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 1
    await ClockCycles(dut.clk, 3)
    dut.rst.value = 0
    await ClockCycles(dut.clk, 16)              # the link zeroes its counters after reset
    await FallingEdge(dut.clk)


def system_config(params):
    cfg = Config.from_dict(params["config"])
    return cfg, dict(word_bits=cfg.weight_bits, depths=tuple(r.depth for r in memory_map(cfg)),
                     max_payload=params["max_payload"], sample_bytes=params["sample_bytes"],
                     n_classes=cfg.layers[-1])


class SpecOracle:
    """What ``docs/protocol.md`` alone says of a response to a complete frame, independent of
    the model: a bad CRC gets BAD_CRC (nothing else is checked), an opcode outside table 4
    UNKNOWN_OPCODE, and a length that ``fewmul.protocol.length_is_legal`` (table 4's lengths)
    forbids BAD_LENGTH; a frame of a legal length is never answered BAD_LENGTH."""

    def __init__(self, kwargs):
        self.sample_bytes = kwargs["sample_bytes"]
        self.word_bits = kwargs["word_bits"]
        self.max_payload = kwargs["max_payload"]
        self.checked = {}

    def expected_error(self, body):
        """The error code the spec requires for ``body`` (opcode .. CRC, a complete frame), or
        ``None`` when the spec leaves the answer to later checks (region, address, engine)."""
        opcode, payload = body[0], bytes(body[3:-2])
        if crc16(body) != CRC_RESIDUE:
            return ErrorCode.BAD_CRC
        if opcode not in set(Opcode):
            return ErrorCode.UNKNOWN_OPCODE
        if not length_is_legal(opcode, payload, sample_bytes=self.sample_bytes,
                               word_bits=self.word_bits, max_payload=self.max_payload):
            return ErrorCode.BAD_LENGTH
        return None

    def check(self, body, response):
        want = self.expected_error(body)
        frame = decode_frame(response)
        code = frame.payload[1] if frame.opcode == ERROR_OPCODE else ErrorCode.OK
        key = "legal length" if want is None else ErrorCode(want).name
        self.checked[key] = self.checked.get(key, 0) + 1
        if want is not None:
            assert frame.opcode == ERROR_OPCODE and code == want, (
                f"frame a5{bytes(body).hex()}: the spec requires {ErrorCode(want).name}, the "
                f"link answered {response.hex()}")
        else:
            assert code != ErrorCode.BAD_LENGTH, (
                f"frame a5{bytes(body).hex()} has a legal length, answered BAD_LENGTH")


class LinkTestbench:
    """Plays request bytes through the harness's player in lock step with the model and scores
    every response from the harness's recorder against it.

    A case's bytes are cut where the model says a frame completes: the player sends up to that
    byte, the recorder's target is raised by the predicted response's length, and the response
    must complete within ``bound`` clocks (else: hang) and equal the model's (else: mismatch).
    Python wakes a few times per frame, not once per clock. ``gap`` and ``stall`` set the
    harness's random idle clocks between request bytes and back-pressure on responses.
    """

    def __init__(self, dut, params, rng):
        self.dut = dut
        self.cfg, kwargs = system_config(params)
        self.model = LinkModel(**kwargs)
        self.spec = SpecOracle(kwargs)
        self.rng = rng
        self.fast = random.Random(int(rng.integers(2**32)))
        self.stall = params.get("stall", 0.25)
        self.timeout = params["timeout_cycles"]
        self.max_payload = kwargs["max_payload"]
        self.play_bytes = params["play_bytes"]
        self.record_bytes = params["record_bytes"]
        # longest response: the link's worst execution plus sending a full frame under stalls,
        # plus the idle timeout of a truncated frame
        self.bound = int((8 * (self.max_payload + 16) + 64) / (1 - self.stall)) + self.timeout
        self.expected_bytes = 0
        self.responses = 0
        self.stalled_responses = 0
        self.sequence = 0
        self.last_response = b""
        self.falling = FallingEdge(dut.clk)

    async def _play(self, data, gap_threshold):
        dut = self.dut
        for k in range(0, len(data), self.play_bytes):
            chunk = data[k:k + self.play_bytes]
            await self.falling
            dut.play_data.value = int.from_bytes(chunk, "little")
            dut.play_length.value = len(chunk)
            dut.gap_threshold.value = gap_threshold
            self.sequence = (self.sequence + 1) & 0xFF
            dut.play_sequence.value = self.sequence
            await RisingEdge(dut.play_done)

    async def _response(self, response, context):
        dut = self.dut
        self.responses += 1
        stalled = self.fast.random() < 0.1
        self.stalled_responses += stalled
        self.expected_bytes += len(response)
        await self.falling
        dut.stall_threshold.value = int(256 * self.stall) if stalled else 0
        dut.record_target.value = self.expected_bytes
        await ReadOnly()
        if not int(dut.record_hit.value):
            deadline = Timer(10 * self.bound, unit="ns")
            if await First(RisingEdge(dut.record_hit), deadline) is deadline:
                missing = self.expected_bytes - int(dut.record_count.value)
                raw = int(dut.record.value).to_bytes(self.record_bytes, "little")
                got = raw[self.record_bytes - (len(response) - missing):]
                raise AssertionError(f"hang or short response: {missing} of {len(response)} "
                                     f"bytes missing {self.bound} cycles after {context}; got "
                                     f"{got.hex()}, want {response.hex()}")
            await ReadOnly()
        count = int(dut.record_count.value)
        if not dut.record.value.is_resolvable:
            raise AssertionError(f"after {context}: unresolved response bits "
                                 f"{str(dut.record.value)[:8 * len(response)]}; model "
                                 f"{response.hex()}")
        record = int(dut.record.value).to_bytes(self.record_bytes, "little")
        got = record[self.record_bytes - len(response):]
        self.last_response = got
        if count != self.expected_bytes or got != response:
            raise AssertionError(f"after {context}: response {got.hex()} ({count} bytes so "
                                 f"far) != model {response.hex()} ({self.expected_bytes})")
        await self.falling                                  # DONE -> HUNT before more bytes
        await self.falling

    async def send(self, data, gap_chance=0.0):
        """Feed ``data`` in lock step with the model; check each response it predicts, and the
        response to each complete frame against the spec (:class:`SpecOracle`)."""
        context = f"bytes {bytes(data).hex()}"
        gap_threshold = int(256 * gap_chance)
        start = 0
        for k, byte in enumerate(data):
            response = self.model.feed(byte)
            if response is not None:
                await self._play(data[start:k + 1], gap_threshold)
                await self._response(response, context)
                self.spec.check(self.model.frame, self.last_response)
                start = k + 1
        if start < len(data):
            await self._play(data[start:], gap_threshold)
        if self.model.receiving:                            # truncated or oversized: idle
            await self._response(self.model.idle(), context + " then idle")

    async def send_while_busy(self, frame, extra):
        """``frame`` followed at once by ``extra``, which arrives while the link executes or
        answers ``frame`` (keep ``frame``'s work longer than ``len(extra)`` clocks): every extra
        byte must be dropped and counted, and the response must be unaffected."""
        responses = [r for r in map(self.model.feed, frame) if r is not None]
        assert len(responses) == 1 and not self.model.receiving
        self.model.drop(len(extra))
        await self._play(bytes(frame) + bytes(extra), gap_threshold=0)
        await self._response(responses[0], f"{bytes(frame).hex()} + {len(extra)} extra bytes")

    async def check_quiet(self, cycles):
        """Nothing beyond the predicted responses comes out in ``cycles`` clocks."""
        await ClockCycles(self.dut.clk, cycles)
        await ReadOnly()
        count = int(self.dut.record_count.value)
        assert count == self.expected_bytes, (
            f"{count - self.expected_bytes} response bytes beyond the model's")

    async def request(self, opcode, payload=b""):
        """Send one well-formed frame; its response (already checked against the model)."""
        await self.send(encode_frame(opcode, payload))
        return self.last_response


class FrameFuzzer:
    """Random valid frames of every opcode, and mutations of them."""

    def __init__(self, tb, rng):
        self.tb = tb
        self.rng = rng
        self.cfg = tb.cfg
        self.depths = tb.model.depths
        self.wb = word_bytes(tb.model.word_bits)
        self.sample_bytes = tb.model.sample_bytes

    def integers(self, lo, hi, n=None):
        return self.rng.integers(lo, hi, n) if n is not None else int(self.rng.integers(lo, hi))

    def valid_frame(self):
        r = self.rng.random()
        if r < 0.30:
            region = self.integers(0, len(self.depths))
            count = self.integers(1, min(self.depths[region], (self.tb.max_payload - 5)
                                         // self.wb) + 1)
            address = self.integers(0, self.depths[region] - count + 1)
            bits = self.tb.model.word_bits
            words = self.integers(-(1 << (bits - 1)), 1 << (bits - 1), count).tolist()
            return encode_frame(Opcode.LOAD, load_payload(region, address, words, bits))
        if r < 0.50:
            region = self.integers(0, len(self.depths))
            count = self.integers(1, min(self.depths[region],
                                         self.tb.max_payload // self.wb) + 1)
            address = self.integers(0, self.depths[region] - count + 1)
            return encode_frame(Opcode.READ, read_payload(region, address, count))
        if r < 0.60:
            payload = self.integers(0, 256, 4 * SEED_STREAMS).astype(np.uint8)
            if self.rng.random() < 0.8:
                payload[::4] |= 1                            # no zero state
            return encode_frame(Opcode.SEED, payload.tobytes())
        if r < 0.72:
            label = self.integers(0, self.cfg.layers[-1] + 2)
            sample = self.integers(0, 256, self.sample_bytes).astype(np.uint8).tobytes()
            return encode_frame(Opcode.TRAIN, bytes([label]) + sample)
        if r < 0.80:
            sample = self.integers(0, 256, self.sample_bytes).astype(np.uint8).tobytes()
            return encode_frame(Opcode.PREDICT, sample)
        if r < 0.84:
            return encode_frame(Opcode.LR, bytes([self.integers(0, 256)]))
        if r < 0.89:                                     # DATA: as many records as fit
            most = data_records_per_frame(self.sample_bytes, self.tb.max_payload)
            count = self.integers(1, most + 1)
            records = self.integers(0, 256, count * (1 + self.sample_bytes)).astype(np.uint8)
            # a fifth of them with a count that disagrees with the records (0 included)
            said = count if self.rng.random() < 0.8 else self.integers(0, count + 2)
            header = struct.pack("<HH", self.integers(0, 1 << 16), said)
            return encode_frame(Opcode.DATA, header + records.tobytes())
        if r < 0.92:                                     # EPOCH: size, count, key
            return encode_frame(Opcode.EPOCH,
                                self.integers(0, 256, 8).astype(np.uint8).tobytes())
        choices = (Opcode.PING, Opcode.STATUS, Opcode.COUNTERS, Opcode.RESET)
        return encode_frame(choices[self.integers(0, len(choices))] if self.rng.random() > 0.02
                            else Opcode.RESET)

    def frame(self):
        """``(kind, bytes)``: a valid frame or one of the mutations."""
        frame = bytearray(self.valid_frame())
        r = self.rng.random()
        if r < 0.40:
            return "valid", bytes(frame)
        if r < 0.58:                                     # 1 to 3 bit flips anywhere
            for _ in range(self.integers(1, 4)):
                k = self.integers(0, len(frame))
                frame[k] ^= 1 << self.integers(0, 8)
            return "bit flip", bytes(frame)
        if r < 0.68:
            return "truncated", bytes(frame[:self.integers(1, len(frame))])
        if r < 0.76:
            frame[-self.integers(1, 3)] ^= self.integers(1, 256)
            return "bad crc", bytes(frame)
        if r < 0.82:
            known = {int(op) for op in Opcode}
            opcode = self.rng.choice([v for v in range(256) if v not in known])
            payload = self.integers(0, 256, self.integers(0, 12)).astype(np.uint8).tobytes()
            return "unknown opcode", encode_frame(int(opcode), payload)
        if r < 0.88:                                     # length field above max_payload
            length = self.integers(self.tb.max_payload + 1, 0x10000)
            body = self.integers(0, 256, self.integers(0, 40)).astype(np.uint8).tobytes()
            return "oversized", bytes([SYNC, frame[1], length & 0xFF, length >> 8]) + body
        if r < 0.94:                                     # re-framed with a wrong payload length
            payload = bytes(frame[4:-2])
            if payload and self.rng.random() < 0.5:
                payload = payload[:self.integers(0, len(payload))]
            else:
                payload += bytes(self.integers(0, 256, self.integers(1, 4)).astype(np.uint8))
            return "wrong length", encode_frame(frame[1], payload[:self.tb.max_payload])
        noise = self.integers(0, 256, self.integers(1, 12)).astype(np.uint8).tobytes()
        if self.rng.random() < 0.5:
            return "noise then frame", noise + bytes(frame)
        return "noise", noise


@cocotb.test()
async def fuzz(dut):
    params = testbench_params()
    await start(dut, autoplay=1)
    rng = np.random.default_rng(params["seed"])
    tb = LinkTestbench(dut, params, rng)
    fuzzer = FrameFuzzer(tb, rng)
    n = max(100, int(params["frames"] * volume()))
    kinds = {}
    for _ in range(n):
        kind, data = fuzzer.frame()
        kinds[kind] = kinds.get(kind, 0) + 1
        await tb.send(data, gap_chance=0.03)

    # bytes sent while the link answers a long READ are dropped and counted, nothing else
    per_frame = tb.max_payload // word_bytes(tb.model.word_bits)
    for extra in (1, 5, 16):
        await tb.send_while_busy(encode_frame(Opcode.READ, read_payload(0, 0, per_frame)),
                                 bytes([SYNC]) * extra)
    assert tb.model.counters[Counter.DROPPED_BYTES] >= 22

    # no state corruption: every word, then every counter, equals the model
    words_checked = 0
    for region, depth in enumerate(tb.model.depths):
        for address in range(0, depth, per_frame):
            count = min(per_frame, depth - address)
            response = await tb.request(Opcode.READ, read_payload(region, address, count))
            assert response[1] == Opcode.READ | 0x80, response.hex()
            words_checked += count
    await tb.request(Opcode.STATUS)
    await tb.check_quiet(2 * tb.timeout)
    counts = dict(zip((c.name for c in Counter), tb.model.counters, strict=True))
    dut._log.info("fuzz: %d frames (%s), %d responses (%d under back-pressure), 0 hangs, "
                  "0 mismatches; %d memory words and %d counters read back equal; counters %s; "
                  "spec checks %s",
                  n, ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())), tb.responses,
                  tb.stalled_responses, words_checked, len(counts), counts, tb.spec.checked)
    assert tb.spec.checked.get("BAD_LENGTH", 0) >= n // 100, tb.spec.checked


@cocotb.test()
async def request_lengths(dut):
    """Every opcode at its legal length and at wrong ones: the answers the spec requires
    (:class:`SpecOracle`: BAD_LENGTH exactly for the lengths table 4 forbids), and RESET with a
    payload (``A5 05 01 00 7F 80 CD``) or a bad CRC refused before it resets anything (the
    seed, the dropped-byte count). The memory keeps what the fuzz wrote: only address 0 of
    region 0 is read, after a LOAD of 0 there (LOAD comes first in ``Opcode``)."""
    params = testbench_params()
    await start(dut, autoplay=1)
    tb = LinkTestbench(dut, params, np.random.default_rng(params["seed"]))
    sample_bytes, word_bits = tb.spec.sample_bytes, tb.spec.word_bits
    await tb.send(encode_frame(Opcode.RESET))       # the state the fuzz left: the model's
    await tb.send(encode_frame(Opcode.SEED, bytes(range(1, 4 * SEED_STREAMS + 1))))
    await tb.send_while_busy(encode_frame(Opcode.PING), bytes([SYNC]) * 5)
    await tb.send(bytes.fromhex("a50501007f80cd"))
    assert tb.last_response == encode_frame(ERROR_OPCODE, bytes([Opcode.RESET,
                                                                 ErrorCode.BAD_LENGTH]))
    await tb.send(bytes.fromhex("a50500000000"))                    # RESET with a bad CRC
    assert tb.last_response[4:6] == bytes([Opcode.RESET, ErrorCode.BAD_CRC])
    status = decode_frame(await tb.request(Opcode.STATUS)).payload  # nothing was reset
    assert int.from_bytes(status[4 * Counter.DROPPED_BYTES:][:4], "little") == 5, status.hex()
    train = encode_frame(Opcode.TRAIN, bytes(sample_bytes + 1))     # still seeded: not BAD_STATE
    await tb.send(train)
    assert tb.last_response[1] == Opcode.TRAIN | RESPONSE_FLAG, tb.last_response.hex()
    for opcode in Opcode:
        legal = request_length(opcode, sample_bytes=sample_bytes, word_bits=word_bits, count=1)
        head = read_payload(0, 0, 1) if opcode in (Opcode.LOAD, Opcode.READ) else b""
        for length in sorted({legal, legal + 1, legal + 2, max(legal - 1, 0), 0, 1}):
            await tb.send(encode_frame(opcode, (head + bytes(length))[:length]))
    assert tb.spec.checked["BAD_LENGTH"] >= 2 * len(Opcode), tb.spec.checked
    dut._log.info("request lengths: %s", tb.spec.checked)


class CountingTransport:
    """Counts the OK responses a transport carries (to check STATUS against)."""

    def __init__(self, transport):
        self.transport = transport
        self.ok = 0

    async def exchange(self, request):
        frame = await self.transport.exchange(request)
        self.ok += frame.opcode != ERROR_OPCODE
        return frame


@cocotb.test()
async def host_api(dut):
    params = testbench_params()
    await start(dut)
    cfg, kwargs = system_config(params)
    rng = np.random.default_rng(params["seed"])
    transport = CountingTransport(CocotbStreamTransport(dut, timeout_cycles=20_000))
    device = AsyncDevice(transport)

    info = await device.ping()
    assert (info.word_bits, info.max_payload, info.depths) == (
        kwargs["word_bits"], kwargs["max_payload"], kwargs["depths"]), info

    half = 1 << (cfg.weight_bits - 1)
    weights = [rng.integers(-half, half, (n_out, n_in)).tolist()
               for n_in, n_out in zip(cfg.layers[:-1], cfg.layers[1:], strict=True)]
    biases = [rng.integers(-half, half, n_out).tolist() for n_out in cfg.layers[1:]]
    weights[0][0][0], weights[0][0][1], biases[-1][-1] = -half, half - 1, -1
    await device.load_network(cfg, weights, biases)
    assert await device.read_network(cfg) == (weights, biases)

    sample = rng.integers(0, 128, kwargs["sample_bytes"]).tolist()
    try:
        await device.train(sample, 1)
        raise AssertionError("TRAIN before SEED succeeded")
    except LinkError as error:
        assert error.code == ErrorCode.BAD_STATE and error.opcode == Opcode.TRAIN, error
    await device.seed(seed_states(cfg.seed))
    assert await device.train(sample, 1) == bytes([sum(sample) & 0xFF])
    assert await device.predict(sample) == bytes([sum(sample) & 0xFF])
    assert await device.counters() == (1).to_bytes(4, "little") * 2
    for bad_call, code in [(device.read(len(kwargs["depths"]), 0, 1), ErrorCode.BAD_REGION),
                           (device.read(1, kwargs["depths"][1], 1), ErrorCode.BAD_ADDRESS),
                           (device.train(sample, cfg.layers[-1]), ErrorCode.BAD_ARG),
                           (device.seed([1, 2, 0, 4, 5]), ErrorCode.BAD_ARG)]:
        try:
            await bad_call
            raise AssertionError(f"expected {code.name}")
        except LinkError as error:
            assert error.code == code, (error, code)
    status = await device.status()
    assert status[Counter.OK] == transport.ok - 1 and status[Counter.BAD_STATE] == 1, (
        transport.ok, status)
    assert status[Counter.BAD_ARG] == 2 and status[Counter.DROPPED_BYTES] == 0, status
    await device.reset()
    status = await device.status()
    assert status[Counter.OK] == 1 and sum(status.values()) == 1, status
    assert await device.read_network(cfg) == (weights, biases)     # RESET keeps the memory
    dut._log.info("host API: ping, network load/read-back, seed/train/predict, errors: ok")

