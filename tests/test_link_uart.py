# amaranth: UnusedElaboratable=no
"""The board path: host bytes -> UART pins -> ``HostLink`` (UART + link) -> memory and stub
engine, and back, driven by the real host API (``AsyncDevice``) in Amaranth's simulator."""

from amaranth.hdl import Fragment, Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator

from fewmul.config import Config
from fewmul.golden.rng import seed_states
from fewmul.host import AsyncDevice
from fewmul.hw.host_link import HostLink
from fewmul.hw.uart import UART
from fewmul.protocol import Counter, ErrorCode, FrameDecoder, LinkError, memory_map
from fewmul.sim.stub_engine import StubEngine
from fewmul.sim.stub_memory import StubMemory

CONFIG = Config(layers=(8, 6, 4), weight_bits=20, lr_shift=8)
DIVISOR = 4
SAMPLE_BYTES = 8


class UARTBoard(wiring.Component):
    """A host-side UART wired by its pins to a ``HostLink`` serving a memory and a stub."""

    def __init__(self):
        depths = tuple(r.depth for r in memory_map(CONFIG))
        self.host_uart = UART(divisor=DIVISOR)
        self.host_link = HostLink(divisor=DIVISOR, word_bits=CONFIG.weight_bits, depths=depths,
                                  max_payload=64)
        self.memory = StubMemory(word_bits=CONFIG.weight_bits, depths=depths)
        self.stub = StubEngine(sample_bytes=SAMPLE_BYTES, n_classes=CONFIG.layers[-1])
        super().__init__({"i": In(stream.Signature(8)), "o": Out(stream.Signature(8))})

    def elaborate(self, platform):
        m = Module()
        m.submodules.host_uart = host_uart = self.host_uart
        m.submodules.host_link = host_link = self.host_link
        m.submodules.memory = self.memory
        m.submodules.stub = self.stub
        wiring.connect(m, wiring.flipped(self.i), host_uart.i)
        wiring.connect(m, host_uart.o, wiring.flipped(self.o))
        wiring.connect(m, host_link.mem, self.memory.bus)
        wiring.connect(m, host_link.engine, self.stub.engine)
        m.d.comb += [host_link.rx.eq(host_uart.tx), host_uart.rx.eq(host_link.tx)]
        return m


class AmaranthTransport:
    """``exchange`` over the board's host-side byte streams in an Amaranth testbench."""

    def __init__(self, ctx, dut, max_cycles=20_000):
        self.ctx, self.dut, self.max_cycles = ctx, dut, max_cycles
        self.ok = 0

    async def exchange(self, request):
        ctx, dut = self.ctx, self.dut
        for byte in request:
            ctx.set(dut.i.valid, 1)
            ctx.set(dut.i.payload, byte)
            while True:
                ready = ctx.get(dut.i.ready)
                await ctx.tick()
                if ready:
                    break
        ctx.set(dut.i.valid, 0)
        ctx.set(dut.o.ready, 1)
        decoder = FrameDecoder()
        for _ in range(self.max_cycles):
            valid, byte = ctx.get(dut.o.valid), ctx.get(dut.o.payload)
            await ctx.tick()
            if valid and (frames := decoder.feed([byte])):
                self.ok += frames[0].opcode != 0xFF
                return frames[0]
        raise LinkError(f"no response within {self.max_cycles} cycles")


def test_host_api_over_uart_pins():
    dut = UARTBoard()
    log = []

    async def testbench(ctx):
        transport = AmaranthTransport(ctx, dut)
        device = AsyncDevice(transport)
        info = await device.ping()
        assert info.depths == tuple(r.depth for r in memory_map(CONFIG))
        words = [-(1 << 19), (1 << 19) - 1, -1, 0, 12345, -54321]
        await device.load(2, 3, words)
        assert await device.read(2, 2, 8) == [0] + words + [0]
        await device.seed(seed_states(CONFIG.seed))
        sample = list(range(SAMPLE_BYTES))
        assert await device.train(sample, 3) == bytes([sum(sample)])
        try:
            await device.read(1, 0, 7)
            raise AssertionError("READ beyond the region succeeded")
        except LinkError as error:
            assert error.code == ErrorCode.BAD_ADDRESS
        status = await device.status()
        assert status[Counter.OK] == transport.ok - 1 and status[Counter.BAD_ADDRESS] == 1
        log.append(transport.ok)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    sim.run()
    assert log == [6]


def test_host_link_timeout_default():
    link = HostLink(divisor=434, word_bits=16, depths=(4,))
    assert link.timeout_cycles == 30 * 434
    Fragment.get(link, None)                               # elaborates (and marks it used)
