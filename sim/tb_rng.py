"""cocotb testbench: ``fewmul.hw.rng.Xorshift32`` against ``fewmul.golden.rng.Xorshift32``.

Loads seeds (the five stream seeds of several training seeds, and random nonzero states), then
advances with random idle gaps; every cycle's ``state`` and every taken ``draw`` are checked.
"""

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge

from fewmul.golden.rng import Xorshift32, seed_states
from fewmul.sim.runner import testbench_params, volume
from fewmul.sim.tb_common import Scoreboard


class RngTestbench:
    """Driver: ``load``/``seed``/``advance`` after the falling edge; monitor: after ReadOnly."""

    def __init__(self, dut, params):
        self.dut = dut
        self.bits = params["bits"]
        self.scoreboard = Scoreboard("rng", dut._log)

    async def start(self):
        self.dut.load.value = 0
        self.dut.advance.value = 0
        self.dut.seed.value = 0
        cocotb.start_soon(Clock(self.dut.clk, 10, unit="ns").start())
        self.dut.rst.value = 1
        await RisingEdge(self.dut.clk)
        await FallingEdge(self.dut.clk)
        self.dut.rst.value = 0

    async def run_segment(self, seed, advance):
        """Load ``seed`` then run ``len(advance)`` cycles with that enable pattern."""
        dut = self.dut
        dut.load.value = 1
        dut.seed.value = seed
        await FallingEdge(dut.clk)
        dut.load.value = 0
        n = len(advance)
        draws = np.zeros(n, dtype=np.int64)
        states = np.zeros(n, dtype=np.int64)
        pattern = [int(a) for a in advance]
        for k in range(n):
            dut.advance.value = pattern[k]
            await ReadOnly()
            draws[k] = int(dut.draw.value)        # the draw on offer this cycle
            await FallingEdge(dut.clk)
            states[k] = int(dut.state.value)      # the state after this cycle's edge
        dut.advance.value = 0
        taken = np.asarray(advance, dtype=bool)
        model = Xorshift32(seed).states(int(taken.sum())).astype(np.int64)
        want_states = np.full(n, seed, dtype=np.int64)
        index = np.cumsum(taken) - 1                                   # draws taken so far
        want_states[index >= 0] = model[index[index >= 0]]
        want_draw_states = np.concatenate([model, Xorshift32(int(model[-1]) if len(model) else
                                                             seed).states(1).astype(np.int64)])
        before = np.cumsum(taken) - taken                              # draws taken before
        want_draws = want_draw_states[before] >> (32 - self.bits)
        self.scoreboard.compare({"cycle": np.arange(n), "advance": taken.astype(np.int64)},
                                {"state": states, "draw": draws},
                                {"state": want_states, "draw": want_draws})


@cocotb.test()
async def stream_seeds(dut):
    """The five streams of training seeds 0, 1, 2**32-1: long runs without idle cycles."""
    params = testbench_params()
    tb = RngTestbench(dut, params)
    await tb.start()
    n = int(params["transactions"] * volume()) // 15 + 1
    for seed in (0, 1, 2**32 - 1):
        for state in seed_states(seed):
            await tb.run_segment(state, np.ones(n, dtype=np.int64))
    tb.scoreboard.check()


@cocotb.test()
async def idle_gaps_and_reloads(dut):
    params = testbench_params()
    tb = RngTestbench(dut, params)
    await tb.start()
    rng = np.random.default_rng(params["seed"])
    total = int(params["transactions"] * volume())
    for state in [1, 0x8000_0000, 0xFFFF_FFFF] + list(rng.integers(1, 2**32, 5)):
        await tb.run_segment(int(state), (rng.random(total // 8 + 1) < 0.7).astype(np.int64))
    tb.scoreboard.check()
