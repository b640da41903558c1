"""cocotb testbench: ``fewmul.hw.uart`` on a bank of UARTs, one per baud divisor.

The top (``tests.test_uart.UARTBank``) holds ``UART(divisor=d)`` instances as ``u0``, ``u1``...
Scenarios: random bytes in loopback with random gaps and receiver back-pressure (every byte
received in order, no framing error); a bit-banged line with good and bad stop bits, glitches
shorter than half a bit, and baud-rate mismatch within ±3 %.
"""

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, ReadWrite, Timer

from fewmul.sim.runner import testbench_params, volume

CLOCK_NS = 10


def level(signal):
    """A 1-bit output as 0/1; Icarus leaves combinational outputs X until their first input
    change, which for a pulse means 0."""
    value = signal.value
    return int(value) if value.is_resolvable else 0


class UARTLane:
    """Driver, monitor and scoreboard for one UART of the bank."""

    def __init__(self, dut, index, divisor):
        self.dut = dut
        self.divisor = divisor
        self.port = {name: getattr(dut, f"u{index}__{name}") for name in (
            "i__valid", "i__payload", "i__ready", "o__valid", "o__payload", "o__ready", "rx",
            "loopback", "framing_error", "overrun")}
        self.received = []
        self.framing_errors = 0
        self.overruns = 0

    def reset_inputs(self, loopback):
        self.port["i__valid"].value = 0
        self.port["i__payload"].value = 0
        self.port["o__ready"].value = 1
        self.port["rx"].value = 1
        self.port["loopback"].value = loopback

    async def monitor(self, rng, stall):
        """Every falling edge: choose ``o.ready``, then record what the next rising edge takes.

        ``o.valid`` and ``o.payload`` are registered, so their values at the falling edge are
        the ones the rising edge sees; the error pulses are read once ``o.ready`` has settled.
        """
        p = self.port
        while True:
            await FallingEdge(self.dut.clk)
            ready = int(rng.random() >= stall)   # stalls far shorter than a byte lose nothing
            p["o__ready"].value = ready
            if ready and level(p["o__valid"]):
                self.received.append(int(p["o__payload"].value))
            await ReadWrite()
            self.framing_errors += level(p["framing_error"])
            self.overruns += level(p["overrun"])

    async def send(self, data, rng, gap_chance):
        """Offer each byte on ``i`` after random idle cycles; hold it until taken."""
        p = self.port
        await FallingEdge(self.dut.clk)
        for byte in data:
            while rng.random() < gap_chance:
                await FallingEdge(self.dut.clk)
            p["i__valid"].value = 1
            p["i__payload"].value = int(byte)
            while True:
                ready = level(p["i__ready"])       # registered: stable until the rising edge
                await FallingEdge(self.dut.clk)
                if ready:
                    break
            p["i__valid"].value = 0
        await ClockCycles(self.dut.clk, 12 * self.divisor)

    async def bitbang(self, byte, stop=1, stretch=1.0):
        """Drive one 8N1 frame on ``rx`` with bit time ``divisor * stretch`` clocks."""
        bit_ns = self.divisor * CLOCK_NS * stretch
        for bit in [0] + [(byte >> k) & 1 for k in range(8)] + [stop]:
            self.port["rx"].value = bit
            await Timer(bit_ns, unit="ns", round_mode="round")
        self.port["rx"].value = 1
        await Timer(2 * bit_ns, unit="ns", round_mode="round")


async def make_bank(dut, loopback):
    params = testbench_params()
    lanes = [UARTLane(dut, k, d) for k, d in enumerate(params["divisors"])]
    for lane in lanes:
        lane.reset_inputs(loopback)
    cocotb.start_soon(Clock(dut.clk, CLOCK_NS, unit="ns").start())
    dut.rst.value = 1
    await ClockCycles(dut.clk, 3)
    dut.rst.value = 0
    return params, lanes


@cocotb.test()
async def loopback_random_bytes(dut):
    params, lanes = await make_bank(dut, loopback=1)
    rng = np.random.default_rng(params["seed"])
    n = max(16, int(params["bytes"] * volume()))
    sent = []
    tasks = []
    for lane in lanes:
        data = rng.integers(0, 256, n).tolist()
        data[:4] = [0x00, 0xFF, 0x55, 0xAA]
        sent.append(data)
        cocotb.start_soon(lane.monitor(np.random.default_rng(rng.integers(2**32)), stall=0.3))
        tasks.append(cocotb.start_soon(lane.send(data, np.random.default_rng(rng.integers(2**32)),
                                                 gap_chance=0.2)))
    for task in tasks:
        await task
    for lane, data in zip(lanes, sent, strict=True):
        first = next((k for k, (a, b) in enumerate(zip(lane.received, data, strict=False))
                      if a != b), None)
        assert lane.received == data, (
            f"divisor {lane.divisor}: sent {len(data)} bytes, received {len(lane.received)}; "
            f"first difference at {first}")
        assert lane.framing_errors == 0 and lane.overruns == 0
        dut._log.info("uart divisor %d: %d bytes looped back", lane.divisor, len(data))


@cocotb.test()
async def framing_errors_and_glitches(dut):
    params, lanes = await make_bank(dut, loopback=0)
    rng = np.random.default_rng(params["seed"] + 1)
    for lane in lanes:
        cocotb.start_soon(lane.monitor(rng, stall=0.0))
    for lane in lanes:
        expected = []
        for k in range(12):
            byte = int(rng.integers(0, 256))
            if k % 3 == 1:                                   # bad stop bit: dropped, flagged
                await lane.bitbang(byte, stop=0)
            else:
                # baud mismatch only where a clock is a small part of a bit
                stretch = (0.97, 1.0, 1.03)[k % 3] if lane.divisor >= 12 else 1.0
                await lane.bitbang(byte, stretch=stretch)
                expected.append(byte)
            # a low glitch shorter than half a bit is not a start bit
            lane.port["rx"].value = 0
            await ClockCycles(dut.clk, max(1, lane.divisor // 2 - 3))
            lane.port["rx"].value = 1
            await ClockCycles(dut.clk, 2 * lane.divisor)
        await ClockCycles(dut.clk, 4)
        assert lane.received == expected, (lane.divisor, lane.received, expected)
        assert lane.framing_errors == 4, (lane.divisor, lane.framing_errors)
        assert lane.overruns == 0
        dut._log.info("uart divisor %d: %d good bytes, 4 framing errors flagged", lane.divisor,
                      len(expected))
