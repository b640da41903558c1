"""Host driver: framing, payloads, and the Device API over the link model (no simulator)."""

import asyncio

import pytest

from fewmul.config import Config
from fewmul.golden.rng import seed_states
from fewmul.host import AsyncDevice, Device
from fewmul.protocol import (
    Counter,
    ErrorCode,
    FrameDecoder,
    LinkError,
    Opcode,
    decode_frame,
    decode_words,
    encode_frame,
    encode_words,
    layer_regions,
    length_is_legal,
    load_payload,
    memory_map,
    read_payload,
    request_length,
    seed_payload,
)
from fewmul.sim.link_model import LinkModel


class ModelTransport:
    """``exchange`` through ``LinkModel``: the Device API checked without a simulator."""

    def __init__(self, model):
        self.model = model
        self.frames = 0

    def exchange(self, request):
        self.frames += 1
        responses = [r for r in map(self.model.feed, request) if r is not None]
        assert len(responses) == 1 and not self.model.receiving
        return decode_frame(responses[0])


def test_encode_decode_round_trip():
    frame = encode_frame(Opcode.LOAD, bytes(range(10)))
    decoded = decode_frame(frame)
    assert (decoded.opcode, decoded.payload) == (Opcode.LOAD, bytes(range(10)))
    assert encode_frame(Opcode.PING) == bytes.fromhex("a5010000fbac")


def test_decoder_skips_noise_and_splits():
    decoder = FrameDecoder()
    stream = b"\x00\x13" + encode_frame(0x81, b"ab") + encode_frame(0x84)
    frames = [f for k in range(len(stream)) for f in decoder.feed(stream[k:k + 1])]
    assert [(f.opcode, f.payload) for f in frames] == [(0x81, b"ab"), (0x84, b"")]
    with pytest.raises(LinkError, match="bad CRC"):
        decoder.feed(encode_frame(0x81)[:-1] + b"\x00")


@pytest.mark.parametrize("bits", [1, 8, 12, 16, 20, 24, 32])
def test_words_round_trip(bits):
    words = [-(1 << (bits - 1)), (1 << (bits - 1)) - 1, 0, -1 if bits > 1 else 0]
    data = encode_words(words, bits)
    assert len(data) == len(words) * ((bits + 7) // 8)
    assert decode_words(data, bits) == words


@pytest.mark.parametrize("kwargs, message", [
    (dict(opcode=256), "opcode must be a byte, not 256"),
    (dict(opcode=1, payload=bytes(65536)), "payload must be at most 65535 bytes, not 65536"),
])
def test_encode_rejects(kwargs, message):
    with pytest.raises(ValueError) as info:
        encode_frame(**kwargs)
    assert str(info.value) == message


def test_request_lengths_are_table_4():
    """The table of ``docs/protocol.md``: one legal length per opcode."""
    lengths = {op: request_length(op, sample_bytes=64, word_bits=20, count=3) for op in Opcode}
    assert lengths == {Opcode.PING: 0, Opcode.LOAD: 5 + 3 * 3, Opcode.READ: 5, Opcode.STATUS: 0,
                       Opcode.RESET: 0, Opcode.SEED: 20, Opcode.TRAIN: 65, Opcode.PREDICT: 64,
                       Opcode.COUNTERS: 0, Opcode.LR: 1, Opcode.DATA: 4 + 3 * 65,
                       Opcode.EPOCH: 8}
    with pytest.raises(ValueError, match="no request opcode 0x42"):
        request_length(0x42)
    with pytest.raises(ValueError, match="the length of TRAIN needs sample_bytes"):
        request_length(Opcode.TRAIN)


@pytest.mark.parametrize("opcode, payload, legal", [
    (Opcode.RESET, b"", True),
    (Opcode.RESET, b"\x7f", False),
    (Opcode.LR, b"", False),
    (Opcode.SEED, bytes(19), False),
    (Opcode.TRAIN, bytes(9), True),
    (Opcode.PREDICT, bytes(9), False),
    (Opcode.LOAD, load_payload(0, 0, [1, 2], 12), True),
    (Opcode.LOAD, load_payload(0, 0, [1, 2], 12)[:-1], False),
    (Opcode.LOAD, load_payload(0, 0, [], 12), False),          # count 0
    (Opcode.READ, read_payload(0, 0, 24), True),
    (Opcode.READ, read_payload(0, 0, 25), False),              # answer above max_payload
    (Opcode.READ, read_payload(0, 0, 0), False),
    (Opcode.DATA, b"\0\0\1\0" + bytes(9), True),               # one record of label + 8 inputs
    (Opcode.DATA, b"\0\0\1\0" + bytes(8), False),
    (Opcode.DATA, b"\0\0\0\0", False),                         # count 0
    (Opcode.EPOCH, bytes(8), True),
    (Opcode.EPOCH, bytes(7), False),
    (0x42, b"", False),
])
def test_length_is_legal(opcode, payload, legal):
    assert length_is_legal(opcode, payload, sample_bytes=8, word_bits=12,
                           max_payload=48) is legal


def test_seed_payload_rejects_wrong_count():
    with pytest.raises(ValueError, match="SEED needs 5 states, not 4"):
        seed_payload([1, 2, 3, 4])


def _example_network(cfg):
    """12-bit weights and biases of every layer, each value distinct within its row."""
    weights = [[[(i * 31 + j * 7) % 4096 - 2048 for j in range(n)] for i in range(m)]
               for n, m in zip(cfg.layers[:-1], cfg.layers[1:], strict=True)]
    return weights, [[k - 3 for k in range(m)] for m in cfg.layers[1:]]


def test_device_api_over_model():
    cfg = Config(layers=(20, 7, 3), weight_bits=12, lr_shift=8)
    depths = tuple(r.depth for r in memory_map(cfg))
    model = LinkModel(word_bits=12, depths=depths, max_payload=48, sample_bytes=20, n_classes=3)
    transport = ModelTransport(model)
    device = Device(transport)
    info = device.ping()
    assert (info.word_bits, info.max_payload, info.depths) == (12, 48, depths)
    weights, biases = _example_network(cfg)
    device.load_network(cfg, weights, biases)
    assert transport.frames > 1 + len(depths)                  # split by max_payload
    assert device.read_network(cfg) == (weights, biases)
    with pytest.raises(LinkError) as info:
        device.train(bytes(20), 0)
    assert info.value.code == ErrorCode.BAD_STATE and info.value.opcode == Opcode.TRAIN
    device.seed(seed_states(cfg.seed))
    assert device.train(bytes(range(20)), 2) == bytes([sum(range(20))])
    status = device.status()
    assert status[Counter.BAD_STATE] == 1 and status[Counter.OK] == transport.frames - 2


def test_memory_map_splits_a_layer_by_row_tiles():
    """docs/protocol.md, Regions: a layer whose weights pass 65,535 words is split into regions
    of whole row tiles (the most multiples of array_rows that fit), then its biases."""
    cfg = Config(layers=(784, 256, 10), array_rows=8, array_cols=8)
    regions = memory_map(cfg)
    assert [(r.name, r.depth, r.row, r.bias) for r in regions] == [
        ("w0.0", 80 * 784, 0, False), ("w0.1", 80 * 784, 80, False),
        ("w0.2", 80 * 784, 160, False), ("w0.3", 16 * 784, 240, False),
        ("b0", 256, 0, True), ("w1", 2560, 0, False), ("b1", 10, 0, True)]
    assert [r.index for r in regions] == list(range(7))
    small = Config(layers=(64, 256, 10))                        # unsplit: regions 2l, 2l + 1
    assert [r.name for r in memory_map(small)] == ["w0", "b0", "w1", "b1"]
    # the host reads the layout back from PING's depths
    layout = layer_regions(cfg, tuple(r.depth for r in regions))
    assert [[p.index for p in parts] + [bias.index] for parts, bias in layout] == \
        [[0, 1, 2, 3, 4], [5, 6]]
    assert [p.row for p in layout[0][0]] == [0, 80, 160, 240]
    for depths in ((62720, 256, 2560, 10), (62720,) * 3 + (12544, 256, 2560, 10, 1),
                   (62720,) * 3 + (12545, 256, 2560, 10)):
        with pytest.raises(ValueError, match="are not a map of a 784-256-10 MLP"):
            layer_regions(cfg, depths)


def test_device_loads_a_split_layer():
    cfg = Config(layers=(9, 7, 3), array_rows=2, array_cols=2, weight_bits=12)
    regions = memory_map(cfg, region_words=20)        # rows 2 + 2 + 2 + 1, then 2 + 1 (21 > 20)
    assert [r.depth for r in regions] == [18, 18, 18, 9, 7, 14, 7, 3]
    depths = tuple(r.depth for r in regions)
    model = LinkModel(word_bits=12, depths=depths, max_payload=48, sample_bytes=9, n_classes=3)
    device = Device(ModelTransport(model))
    weights, biases = _example_network(cfg)
    device.load_network(cfg, weights, biases)
    assert device.read_network(cfg) == (weights, biases)
    # region 1 holds rows 2-3 of layer 0 (the model keeps 12-bit words unsigned)
    assert model.memory[1] == [w & 0xFFF for row in weights[0][2:4] for w in row]


class AsyncModelTransport(ModelTransport):
    async def exchange(self, request):
        return super().exchange(request)


def test_async_device_runs_the_same_commands():
    depths = (12, 3)
    model = LinkModel(word_bits=8, depths=depths, max_payload=48, sample_bytes=4, n_classes=3)
    device = AsyncDevice(AsyncModelTransport(model))

    async def session():
        info = await device.ping()
        await device.load(0, 2, [-3, 4, 127])
        words = await device.read(0, 1, 5)
        with pytest.raises(LinkError) as error:
            await device.read(1, 2, 2)
        return info, words, error.value.code

    info, words, code = asyncio.run(session())
    assert info.depths == depths and words == [0, -3, 4, 127, 0]
    assert code == ErrorCode.BAD_ADDRESS


def test_serial_transport_over_loopback():
    """pyserial's ``loop://`` echoes the request: the transport returns it decoded."""
    from fewmul.host import SerialTransport
    transport = SerialTransport("loop://", timeout=0.5)
    try:
        frame = transport.exchange(encode_frame(0x81, b"echo"))
        assert (frame.opcode, frame.payload) == (0x81, b"echo")
        transport.timeout = 0.05
        with pytest.raises(LinkError, match="no response within 0.05 s"):
            transport.exchange(b"")
    finally:
        transport.close()
