# amaranth: UnusedElaboratable=no
"""Host link: parameter checks, model unit tests, then the RTL against the model (both
simulators): the host API end to end and the frame fuzz."""

import pytest

from fewmul.config import Config
from fewmul.hw.link import EnginePortSignature, Link, MemoryCommand, MemoryPortSignature
from fewmul.protocol import (
    ERROR_OPCODE,
    Counter,
    ErrorCode,
    Opcode,
    crc16,
    decode_frame,
    encode_frame,
    load_payload,
    memory_map,
    read_payload,
)
from fewmul.sim.link_harness import LinkHarness
from fewmul.sim.link_model import LinkModel
from fewmul.sim.runner import run_testbench

from .conftest import SIMULATORS

#: A small network whose memory map has regions of several depths; 20-bit words take 3 bytes.
CONFIG = Config(layers=(8, 6, 4), weight_bits=20, lr_shift=8)
MAX_PAYLOAD = 64
TIMEOUT = 24
SAMPLE_BYTES = 8
#: Fuzz frames per simulator at FEWMUL_VOLUME=1. Icarus simulates this design at a fifth of
#: Verilator's speed (10,000 frames: about 75 s of CPU against 15 s), so it runs a fifth of
#: the frames by default; FEWMUL_VOLUME=5 gives it 10,000 as well.
FUZZ_FRAMES = {"verilator": 10_000, "icarus": 2_000}


def system_kwargs():
    return dict(word_bits=CONFIG.weight_bits, depths=tuple(r.depth for r in memory_map(CONFIG)),
                max_payload=MAX_PAYLOAD)


@pytest.mark.parametrize("kwargs, message", [
    (dict(word_bits=0, depths=(4,)), "word_bits must be an integer in [1, 32], not 0"),
    (dict(word_bits=16, depths=[4]), "depths must be a tuple of 1 to 255 integers in "
                                     "[1, 65535], not [4]"),
    (dict(word_bits=16, depths=(0,)), "depths must be a tuple of 1 to 255 integers in "
                                      "[1, 65535], not (0,)"),
    (dict(word_bits=16, depths=(4,), max_payload=43),
     "max_payload must be an integer in [44, 65535], not 43"),
    (dict(word_bits=16, depths=(4,) * 30, max_payload=64),
     "max_payload must be an integer in [65, 65535], not 64"),
    (dict(word_bits=16, depths=(4,), timeout_cycles=1),
     "timeout_cycles must be an integer in [2, 16777216], not 1"),
])
def test_rejects_bad_parameters(kwargs, message):
    with pytest.raises(ValueError) as info:
        Link(**kwargs)
    assert str(info.value) == message


def test_port_signatures():
    port = MemoryPortSignature(word_bits=20, n_regions=5)
    assert port == MemoryPortSignature(word_bits=20, n_regions=5)
    assert port != MemoryPortSignature(word_bits=20, n_regions=4)
    assert repr(port) == "MemoryPortSignature(word_bits=20, n_regions=5)"
    assert port.members["cmd"].signature.members["payload"].shape == MemoryCommand(
        word_bits=20, n_regions=5)
    assert MemoryCommand(word_bits=20, n_regions=5).size == 1 + 3 + 16 + 20
    assert EnginePortSignature() == EnginePortSignature()
    link = Link(word_bits=20, depths=(48, 6), max_payload=64)
    assert link.signature.members["mem"].signature == MemoryPortSignature(word_bits=20,
                                                                          n_regions=2)
    assert link.signature.members["engine"].signature == EnginePortSignature()


@pytest.mark.parametrize("kwargs, message", [
    (dict(word_bits=0, n_regions=2), "word_bits must be an integer in [1, 32], not 0"),
    (dict(word_bits=8, n_regions=256), "n_regions must be an integer in [1, 255], not 256"),
])
def test_memory_command_rejects(kwargs, message):
    with pytest.raises(ValueError) as info:
        MemoryPortSignature(**kwargs)
    assert str(info.value) == message


def test_properties():
    link = Link(word_bits=20, depths=(48, 6), max_payload=64, timeout_cycles=99)
    assert (link.word_bytes, link.max_payload, link.timeout_cycles) == (3, 64, 99)
    assert link.ping_info.encode() == bytes([1, 20, 64, 0, 2, 48, 0, 6, 0])


def model():
    return LinkModel(**system_kwargs(), sample_bytes=SAMPLE_BYTES, n_classes=4)


def feed(link_model, data):
    out = [r for r in map(link_model.feed, data) if r is not None]
    if link_model.receiving:
        out.append(link_model.idle())
    return [decode_frame(r) for r in out]


def test_model_load_then_read():
    m = model()
    [ok] = feed(m, encode_frame(Opcode.LOAD, load_payload(2, 20, [-1, 5, 2**19 - 1, -2**19],
                                                          20)))
    assert ok.opcode == Opcode.LOAD | 0x80 and ok.payload == b""
    [back] = feed(m, encode_frame(Opcode.READ, read_payload(2, 19, 5)))
    assert back.payload == bytes.fromhex("000000" "ffff0f" "050000" "ffff07" "000008")


@pytest.mark.parametrize("data, code", [
    (encode_frame(Opcode.PING)[:-1] + b"\x00", ErrorCode.BAD_CRC),
    (encode_frame(0x42), ErrorCode.UNKNOWN_OPCODE),
    (encode_frame(Opcode.READ, read_payload(0, 0, 1))[:5], ErrorCode.TIMEOUT),
    (bytes([0xA5, Opcode.LOAD, 65, 0]) + bytes(70), ErrorCode.OVERSIZE),
    (encode_frame(Opcode.PING, b"x"), ErrorCode.BAD_LENGTH),
    (encode_frame(Opcode.READ, read_payload(0, 0, 22)), ErrorCode.BAD_LENGTH),
    (encode_frame(Opcode.READ, read_payload(4, 0, 1)), ErrorCode.BAD_REGION),
    (encode_frame(Opcode.READ, read_payload(3, 3, 2)), ErrorCode.BAD_ADDRESS),
    (encode_frame(Opcode.TRAIN, bytes(9)), ErrorCode.BAD_STATE),
    (encode_frame(Opcode.SEED, bytes(20)), ErrorCode.BAD_ARG),
    (encode_frame(Opcode.LR, bytes([6])), ErrorCode.BAD_ARG),     # the stub has no LR
    (bytes.fromhex("a50501007f80cd"), ErrorCode.BAD_LENGTH),      # RESET with a payload
    (encode_frame(Opcode.LR, b""), ErrorCode.BAD_LENGTH),
    (encode_frame(Opcode.COUNTERS, b"\0"), ErrorCode.BAD_LENGTH),
])
def test_model_errors(data, code):
    m = model()
    [error] = feed(m, data)
    assert error.opcode == ERROR_OPCODE and error.payload == bytes([data[1], code])
    assert m.counters[code] == 1 and m.memory == model().memory


def test_model_noise_gets_no_answer_and_status_counts():
    m = model()
    assert feed(m, bytes([0, 1, 2, 0x5A])) == []
    feed(m, encode_frame(0x42))
    [status] = feed(m, encode_frame(Opcode.STATUS))
    assert status.payload[:12] == bytes([0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0])
    assert m.counters[Counter.OK] == 1


def test_frame_layout():
    frame = encode_frame(Opcode.READ, read_payload(1, 0x0203, 4))
    assert frame[:4] == bytes([0xA5, 0x03, 5, 0]) and frame[4:9] == bytes([1, 3, 2, 4, 0])
    assert frame[-2:] == crc16(frame[1:-2]).to_bytes(2, "big") and crc16(frame[1:]) == 0


@pytest.mark.sim
@pytest.mark.parametrize("simulator", SIMULATORS)
def test_link_rtl(simulator, build_dir, verilator_fast_build):
    dut = LinkHarness(**system_kwargs(), timeout_cycles=TIMEOUT, sample_bytes=SAMPLE_BYTES,
                    n_classes=CONFIG.layers[-1])
    params = dict(config=CONFIG.as_dict(), max_payload=MAX_PAYLOAD, timeout_cycles=TIMEOUT,
                  sample_bytes=SAMPLE_BYTES, seed=2016, frames=FUZZ_FRAMES[simulator], stall=0.25,
                  play_bytes=dut.play_bytes, record_bytes=dut.record_bytes)
    result = run_testbench(dut, toplevel="link_harness", test_module="fewmul.sim.tb_link",
                           simulator=simulator, build_dir=build_dir, params=params)
    assert result.tests == 3 and result.failed == 0
