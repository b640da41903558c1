"""cocotb testbench: ``fewmul.hw.mac_array.SystolicMacArray`` against
``fewmul.golden.mac_array.reference``, bit for bit and cycle for cycle.

The driver offers one command a cycle (MAC or LOAD) with random idle cycles between; the monitor
records every ``y`` with its cycle. The scoreboard replays the commands through the numpy model
and checks each result's value and that it arrived exactly ``latency`` cycles (the component's
property, passed in the parameters) after its MAC. Programs: corners (rails of every operand and
weight, read-back of each row by unit vectors, LOAD and MAC back to back both ways) and seeded
random mixes.
"""

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge

from fewmul.golden.mac_array import reference
from fewmul.sim.runner import testbench_params, volume


class MacArrayTestbench:
    """Clock, driver, monitor and scoreboard of one ``SystolicMacArray``."""

    def __init__(self, dut, params):
        self.dut = dut
        self.rows, self.cols = params["rows"], params["cols"]
        self.bits, self.sum_bits = params["operand_bits"], params["sum_bits"]
        self.latency = params["latency"]
        self.rng = np.random.default_rng(params["seed"])
        self.lo, self.hi = -(1 << (self.bits - 1)), (1 << (self.bits - 1)) - 1
        cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())

    async def reset(self):
        self.dut.cmd__valid.value = 0
        self.dut.rst.value = 1
        for _ in range(2):
            await RisingEdge(self.dut.clk)
        await FallingEdge(self.dut.clk)
        self.dut.rst.value = 0

    def _pack(self, command):
        mask, value = (1 << self.bits) - 1, int(command["load"])
        for k, operand in enumerate(list(command["x"]) + list(command["w"])):
            value |= (int(operand) & mask) << (1 + k * self.bits)
        return value

    def _unpack(self, value):
        mask, sign = (1 << self.sum_bits) - 1, 1 << (self.sum_bits - 1)
        fields = [(value >> (j * self.sum_bits)) & mask for j in range(self.cols)]
        return [f - (sign << 1) if f & sign else f for f in fields]

    async def run(self, program):
        """Drive ``program`` (commands, ``None`` = an idle cycle) after a reset, then drain and
        score it."""
        await self.reset()
        issued, seen = [], []
        for cycle, command in enumerate(program + [None] * (self.latency + 2)):
            self.dut.cmd__valid.value = command is not None
            if command is not None:
                self.dut.cmd__payload.value = self._pack(command)
                if not command["load"]:
                    issued.append(cycle)
            await RisingEdge(self.dut.clk)
            await ReadOnly()                  # the state after the edge that ends cycle `cycle`
            if int(self.dut.y_valid.value):
                seen.append((cycle + 1, self._unpack(int(self.dut.y.value))))
            await FallingEdge(self.dut.clk)
        want, _ = reference(self.rows, self.cols, [c for c in program if c is not None])
        self.score(issued, seen, want)

    def score(self, issued, seen, want):
        assert len(seen) == len(want), f"{len(seen)} results for {len(want)} MACs"
        late = [(s, got[0]) for s, got in zip(issued, seen, strict=True)
                if got[0] - s != self.latency]
        assert not late, f"latency {self.latency}: (issued, seen) {late[:5]}"
        bad = [(k, got, list(w)) for k, ((_, got), w) in enumerate(zip(seen, want, strict=True))
               if got != [int(v) for v in w]]
        assert not bad, f"{len(bad)} of {len(want)} results differ; first (k, got, want) {bad[:3]}"
        self.dut._log.info("mac array: %d results, 0 mismatches, latency %d", len(want),
                           self.latency)

    # -- programs ---------------------------------------------------------------------------

    def command(self, load, x=None, w=None):
        return {"load": load, "x": [0] * self.rows if x is None else list(x),
                "w": [0] * self.cols if w is None else list(w)}

    def corners(self):
        rows, cols, lo, hi = self.rows, self.cols, self.lo, self.hi
        program = []
        for weight, operand in ((lo, lo), (lo, hi), (hi, hi), (hi, lo), (-1, lo)):
            program += [self.command(True, w=[weight] * cols) for _ in range(rows)]
            program += [self.command(False, x=[operand] * rows)]       # MAC right after LOAD
        rows_loaded = self.rng.integers(lo, hi + 1, (rows, cols))
        for i in range(rows):
            program += [self.command(True, w=rows_loaded[i]),           # LOAD, MAC, LOAD, ...
                        self.command(False, x=self.rng.integers(lo, hi + 1, rows))]
        for i in range(rows):                                        # read back each row
            program += [self.command(False, x=np.eye(rows, dtype=int)[i]), None]
        return program

    def random(self, n, idle):
        program = []
        for _ in range(n):
            if self.rng.random() < idle:
                program.append(None)
                continue
            program.append(self.command(bool(self.rng.random() < 0.3),
                                        self.rng.integers(self.lo, self.hi + 1, self.rows),
                                        self.rng.integers(self.lo, self.hi + 1, self.cols)))
        return program


@cocotb.test()
async def corners(dut):
    tb = MacArrayTestbench(dut, testbench_params())
    await tb.run(tb.corners())


@cocotb.test()
async def random_mix(dut):
    params = testbench_params()
    tb = MacArrayTestbench(dut, params)
    await tb.run(tb.random(int(params["transactions"] * volume()), params["idle"]))
