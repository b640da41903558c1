"""cocotb testbench: ``fewmul.hw.update.BiasUpdate`` (both forms) against ``fewmul.golden.update``.

Expected values come from ``update_bias`` (``docs/datapath.md`` section 8: ``sat(b +
round(δ >> update_base_shift))``) at ``lr_shift + lr_offset``; ``clipped`` from the exact sum
leaving the ``weight_bits`` range. One transaction a clock, outputs sampled ``latency`` clocks
after their inputs (the registered form has a register in the middle, so this also checks that
every input reaches its output in the same cycle).

Directed: biases at and next to the rails and 0, errors at both extremes, ``±1`` and 0, the
extreme draws, every learning-rate offset. Then seeded random transactions, a third of the
biases near a rail so saturation is exercised often.
"""

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge, Timer

from fewmul.config import Config
from fewmul.golden.array import at_lr_offset
from fewmul.golden.fixed import sat_range
from fewmul.golden.update import bias_delta, update_bias
from fewmul.sim.runner import testbench_params, volume
from fewmul.sim.tb_common import Scoreboard

INPUTS = ["bias", "delta", "rand", "lr_offset"]


def expected(cfg, s):
    """``updated`` and ``clipped`` of every transaction of ``s``."""
    updated = np.empty(len(s["bias"]), dtype=np.int64)
    clipped = np.empty(len(s["bias"]), dtype=np.int64)
    lo, hi = sat_range(cfg.weight_bits)
    for offset in np.unique(s["lr_offset"]):
        sel = s["lr_offset"] == offset
        at = at_lr_offset(cfg, int(offset))
        updated[sel] = update_bias(s["bias"][sel], s["delta"][sel], s["rand"][sel], at)
        exact = s["bias"][sel] + bias_delta(s["delta"][sel], s["rand"][sel], at)
        clipped[sel] = (exact < lo) | (exact > hi)
    return {"updated": updated, "clipped": clipped}


def corners(cfg):
    blo, bhi = -(1 << (cfg.weight_bits - 1)), (1 << (cfg.weight_bits - 1)) - 1
    elo, ehi = -(1 << (cfg.err_bits - 1)), (1 << (cfg.err_bits - 1)) - 1
    rows = [(b, d, r, lr)
            for b in (0, blo, bhi, blo + 1, bhi - 1)
            for d in (0, 1, -1, elo, ehi, elo + 1, ehi - 1)
            for r in (0, 1, (1 << cfg.rand_bits) - 1)
            for lr in range(cfg.lr_range + 1)]
    return dict(zip(INPUTS, np.array(rows).T, strict=True))


def random(cfg, rng, n):
    blo, bhi = -(1 << (cfg.weight_bits - 1)), 1 << (cfg.weight_bits - 1)
    bias = rng.integers(blo, bhi, n)
    near = rng.random(n) < 0.3
    bias[near] = np.where(rng.random(near.sum()) < 0.5, blo, bhi - 1) \
        + rng.integers(-64, 64, near.sum())
    return {"bias": np.clip(bias, blo, bhi - 1),
            "delta": rng.integers(-(1 << (cfg.err_bits - 1)), 1 << (cfg.err_bits - 1), n),
            "rand": rng.integers(0, 1 << cfg.rand_bits, n),
            "lr_offset": rng.integers(0, cfg.lr_range + 1, n)}


async def run(dut, cfg, latency, stimulus, scoreboard):
    n = len(stimulus["bias"])
    columns = {name: np.asarray(stimulus[name], dtype=np.int64).tolist() for name in INPUTS}
    got = {"updated": np.zeros(n, dtype=np.int64), "clipped": np.zeros(n, dtype=np.int64)}

    def tick():                              # a clock edge; 1 ns for the combinational form
        return RisingEdge(dut.clk) if latency else Timer(1, unit="ns")

    for t in range(n + latency):
        if t < n:
            for name in INPUTS:
                getattr(dut, name).value = columns[name][t]
        if t >= latency:
            await ReadOnly()
            got["updated"][t - latency] = dut.updated.value.to_signed()
            got["clipped"][t - latency] = int(dut.clipped.value)
        await tick()
    scoreboard.compare(stimulus, got, expected(cfg, stimulus))


@cocotb.test()
async def bias_updates(dut):
    params = testbench_params()
    cfg, latency = Config.from_dict(params["cfg"]), params["latency"]
    if latency:
        dut.rst.value = 0
        cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
        await RisingEdge(dut.clk)            # inputs then change just after each edge
    scoreboard = Scoreboard("bias update", dut._log)
    rng = np.random.default_rng(params["seed"])
    await run(dut, cfg, latency, corners(cfg), scoreboard)
    await run(dut, cfg, latency, random(cfg, rng, int(params["transactions"] * volume())),
              scoreboard)
    scoreboard.check()

