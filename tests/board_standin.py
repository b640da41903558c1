"""A stand-in board on a pseudo-terminal, for testing the host side of ``--backend board``.

:class:`StandInBoard` opens a pty pair (``os.openpty``); pyserial opens its slave path like a
real port, and a thread answers the frames that arrive on the master side, as
``docs/protocol.md`` specifies them: PING with the word width and region depths of a Config,
LOAD / READ on the regions of ``fewmul.host.memory_map``, RESET, SEED, LR (``Config.lr_shifts``,
else BAD_ARG), TRAIN (the golden model's ``train_step``; answer: its argmax) and COUNTERS.

It is a test double of the host's counterpart, not of the RTL (the virtual board of ``fewmul
board sim`` is the RTL's): the host code under test must reach it through the same port, frames
and checks as a board. Faults to test the host's error paths: ``mode="silent"`` (never
answers: an unprogrammed board), ``mode="garbage"`` (answers every byte with noise, as a wrong
baud rate does), ``corrupt_step=N`` (the N-th TRAIN also flips a weight: a planted bug the
host's read-back must catch), ``stop_after=N`` (silent after N TRAINs: a cable pulled).
"""

import os
import select
import struct
import threading
import tty

import numpy as np

from fewmul.golden.mlp import Network, train_step
from fewmul.golden.rng import StreamSet
from fewmul.protocol import (
    ERROR_OPCODE,
    MAX_REGION_WORDS,
    RESPONSE_FLAG,
    VERSION,
    ErrorCode,
    FrameDecoder,
    Opcode,
    PingInfo,
    decode_words,
    encode_frame,
    encode_words,
    layer_regions,
    memory_map,
    word_bytes,
)

__all__ = ["StandInBoard"]


class StandInBoard:
    def __init__(self, cfg, *, mode="answer", corrupt_step=None, stop_after=None,
                 max_payload=256, region_words=MAX_REGION_WORDS):
        self.cfg, self.mode, self.corrupt_step = cfg, mode, corrupt_step
        self.stop_after = stop_after
        self.max_payload = max_payload
        self.depths = [r.depth for r in memory_map(cfg, region_words)]
        self.layout = layer_regions(cfg, self.depths)   # [(weight regions, bias region)] a layer
        self.memory = [[0] * d for d in self.depths]
        self.streams = None
        self.lr_shift = cfg.lr_shift
        self.steps = 0
        self.loads = 0
        self.received = []                       # opcodes of the requests, in order
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        self.port = os.ttyname(self._slave)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=5)
        os.close(self._master)
        os.close(self._slave)

    # -- the line ---------------------------------------------------------------------------
    def _serve(self):
        decoder = FrameDecoder()
        rng = np.random.default_rng(0)
        while not self._stop.is_set():
            ready, _, _ = select.select([self._master], [], [], 0.05)
            if not ready:
                continue
            try:
                data = os.read(self._master, 4096)
            except OSError:
                return
            if self.mode == "silent":
                continue
            if self.mode == "garbage":              # every byte answered by a noise byte
                noise = rng.integers(0, 256, len(data), dtype=np.uint8)
                os.write(self._master, bytes(np.where(noise == 0xA5, 0x5A, noise)))
                continue
            for frame in decoder.feed(data):
                if self.steps == self.stop_after:     # the board went away mid-run
                    self.mode = "silent"
                    break
                self.received.append(frame.opcode)
                os.write(self._master, self._execute(frame.opcode, frame.payload))

    # -- commands ---------------------------------------------------------------------------
    def _error(self, opcode, code):
        return encode_frame(ERROR_OPCODE, bytes([opcode, code]))

    def _ok(self, opcode, payload=b""):
        return encode_frame(opcode | RESPONSE_FLAG, payload)

    def _execute(self, opcode, payload):
        cfg = self.cfg
        if opcode == Opcode.PING:
            info = PingInfo(VERSION, cfg.weight_bits, self.max_payload, tuple(self.depths))
            return self._ok(opcode, info.encode())
        if opcode in (Opcode.LOAD, Opcode.READ):
            region, address, count = struct.unpack("<BHH", payload[:5])
            if region >= len(self.depths):
                return self._error(opcode, ErrorCode.BAD_REGION)
            if address + count > self.depths[region]:
                return self._error(opcode, ErrorCode.BAD_ADDRESS)
            words = self.memory[region]
            if opcode == Opcode.READ:
                return self._ok(opcode, encode_words(words[address:address + count],
                                                     cfg.weight_bits))
            if len(payload) != 5 + count * word_bytes(cfg.weight_bits):
                return self._error(opcode, ErrorCode.BAD_LENGTH)
            words[address:address + count] = decode_words(payload[5:], cfg.weight_bits)
            self.loads += 1
            return self._ok(opcode)
        if opcode == Opcode.RESET:
            self.streams, self.steps, self.lr_shift = None, 0, cfg.lr_shift
            return self._ok(opcode)
        if opcode == Opcode.SEED:
            self.streams = StreamSet(cfg.seed)
            for stream, state in zip(self.streams.streams, struct.unpack("<5I", payload),
                                     strict=True):
                stream.state = state
            return self._ok(opcode)
        if opcode == Opcode.LR:
            if len(payload) != 1:
                return self._error(opcode, ErrorCode.BAD_LENGTH)
            if payload[0] not in cfg.lr_shifts:
                return self._error(opcode, ErrorCode.BAD_ARG)
            self.lr_shift = payload[0]
            return self._ok(opcode)
        if opcode == Opcode.TRAIN:
            if self.streams is None:
                return self._error(opcode, ErrorCode.BAD_STATE)
            return self._ok(opcode, bytes([self._train(payload[1:], payload[0])]))
        if opcode == Opcode.COUNTERS:
            return self._ok(opcode, struct.pack("<3I", self.steps, 0, 0))
        return self._error(opcode, ErrorCode.UNKNOWN_OPCODE)

    def _network(self):
        weights, biases = [], []
        for (w_regions, b_region), n_in in zip(self.layout, self.cfg.layers, strict=False):
            words = [v for r in w_regions for v in self.memory[r.index]]
            weights.append(np.array(words, dtype=np.int64).reshape(-1, n_in))
            biases.append(np.array(self.memory[b_region.index], dtype=np.int64))
        return Network(weights, biases)

    def _train(self, sample, label):
        net = self._network()
        x = np.array([v - 256 if v > 127 else v for v in sample], dtype=np.int64)
        y = train_step(net, x, label, self.streams, self.cfg.replace(lr_shift=self.lr_shift))
        self.steps += 1
        if self.steps == self.corrupt_step:          # the planted bug
            net.weights[0][0, 0] ^= 1
        for (w_regions, b_region), w, b in zip(self.layout, net.weights, net.biases,
                                               strict=True):
            words = [int(v) for v in w.reshape(-1)]
            for r in w_regions:
                self.memory[r.index], words = words[:r.depth], words[r.depth:]
            self.memory[b_region.index] = [int(v) for v in b]
        return int(np.argmax(y))
