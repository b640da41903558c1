"""cocotb testbench: ``fewmul.hw.update.WeightUpdate`` against ``fewmul.golden.update``.

Directed: the most negative and positive errors and weights (saturation in both directions),
zero inputs, every shift, the extreme draws, the smallest and largest run-time learning-rate
offsets. Then seeded random transactions (every ``lr_offset`` in ``0 .. lr_range``), biased
towards weights near the rails so saturation is exercised often.
"""

import cocotb
import numpy as np

from fewmul.config import Config
from fewmul.golden.array import at_lr_offset
from fewmul.golden.quantizer import Quantized
from fewmul.golden.update import update_weights
from fewmul.sim.runner import testbench_params, volume
from fewmul.sim.tb_common import CombinationalHarness, Scoreboard

INPUTS = ["weight", "delta", "negative", "shift", "is_zero", "rand", "lr_offset"]


class UpdateTestbench:
    def __init__(self, dut, params):
        self.cfg = Config.from_dict(params["cfg"])
        self.harness = CombinationalHarness(dut, INPUTS, {"updated": True})
        self.scoreboard = Scoreboard("update", dut._log)

    def model(self, s):
        """``update_weights`` at ``lr_shift + lr_offset``, batched by ``Q(x)`` and the offset:
        each group is an ``n x 1`` update."""
        new = np.empty(len(s["weight"]), dtype=np.int64)
        keys = (s["lr_offset"] * 64 + s["shift"]) * 4 + s["negative"] * 2 + s["is_zero"]
        for key in np.unique(keys):
            sel = keys == key
            quant = Quantized(negative=np.array([bool(key >> 1 & 1)]),
                              shift=np.array([key >> 2 & 63]), is_zero=np.array([bool(key & 1)]))
            cfg = at_lr_offset(self.cfg, key >> 8)
            new[sel] = update_weights(s["weight"][sel, None], s["delta"][sel], quant,
                                      s["rand"][sel, None], cfg)[:, 0]
        return {"updated": new}

    async def apply(self, stimulus):
        got = await self.harness.run(stimulus)
        self.scoreboard.compare(stimulus, got, self.model(stimulus))

    def corners(self):
        cfg = self.cfg
        wlo, whi = -(1 << cfg.weight_frac), (1 << cfg.weight_frac) - 1
        elo, ehi = -(1 << (cfg.err_bits - 1)), (1 << (cfg.err_bits - 1)) - 1
        top = (1 << cfg.rand_bits) - 1
        rows = [(w, d, neg, sh, z, r, lr)
                for w in (0, wlo, whi, wlo + 1, whi - 1)
                for d in (0, 1, -1, elo, ehi, elo + 1)
                for neg in (0, 1) for sh in range(cfg.max_shift + 1) for z in (0, 1)
                for r in (0, top) for lr in sorted({0, cfg.lr_range})]
        grid = np.array(rows)
        return dict(zip(INPUTS, grid.T, strict=True))

    def random(self, rng, n):
        cfg = self.cfg
        wlo, whi = -(1 << cfg.weight_frac), (1 << cfg.weight_frac)
        elo, ehi = -(1 << (cfg.err_bits - 1)), 1 << (cfg.err_bits - 1)
        weight = rng.integers(wlo, whi, n)
        near_rail = rng.random(n) < 0.3
        weight[near_rail] = np.where(rng.random(near_rail.sum()) < 0.5, wlo, whi - 1) \
            + rng.integers(-64, 64, near_rail.sum())
        weight = np.clip(weight, wlo, whi - 1)
        return {"weight": weight, "delta": rng.integers(elo, ehi, n),
                "negative": rng.integers(0, 2, n), "shift": rng.integers(0, cfg.max_shift + 1, n),
                "is_zero": (rng.random(n) < 0.1).astype(np.int64),
                "rand": rng.integers(0, 1 << cfg.rand_bits, n),
                "lr_offset": rng.integers(0, cfg.lr_range + 1, n)}


@cocotb.test()
async def corners(dut):
    tb = UpdateTestbench(dut, testbench_params())
    await tb.apply(tb.corners())
    tb.scoreboard.check()


@cocotb.test()
async def random_updates(dut):
    params = testbench_params()
    tb = UpdateTestbench(dut, params)
    rng = np.random.default_rng(params["seed"])
    await tb.apply(tb.random(rng, int(params["transactions"] * volume())))
    tb.scoreboard.check()
