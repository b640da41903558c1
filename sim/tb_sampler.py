"""cocotb testbench: ``fewmul.hw.sampler.Sampler`` against ``fewmul.golden.sampler``.

Directed corners (every weight near 0, +-1/2 and the extremes against the extreme draws) then
seeded random weights and draws, with the ``deterministic`` override toggled.
"""

import cocotb
import numpy as np

from fewmul.config import Config
from fewmul.golden.sampler import sample_signs
from fewmul.sim.runner import testbench_params, volume
from fewmul.sim.tb_common import CombinationalHarness, Scoreboard


class SamplerTestbench:
    def __init__(self, dut, params):
        self.cfg = Config.from_dict(params["cfg"])
        self.harness = CombinationalHarness(dut, ["weight", "rand", "deterministic"],
                                            {"nonzero": False, "negative": False})
        self.scoreboard = Scoreboard("sampler", dut._log)

    def model(self, stimulus):
        w, r, det = stimulus["weight"], stimulus["rand"], stimulus["deterministic"].astype(bool)
        signs = np.where(det, sample_signs(w, r, self.cfg, deterministic=True),
                         sample_signs(w, r, self.cfg))
        return {"nonzero": signs != 0, "negative": signs < 0}

    async def apply(self, stimulus):
        got = await self.harness.run(stimulus)
        self.scoreboard.compare(stimulus, got, self.model(stimulus))

    def corners(self):
        cfg = self.cfg
        one, top = 1 << cfg.weight_frac, (1 << cfg.rand_bits) - 1
        step = 1 << max(0, cfg.weight_frac - cfg.rand_bits)
        weights = [0, 1, -1, one - 1, -one, -one + 1, one // 2, -(one // 2), one // 2 - 1,
                   -(one // 2) + 1, step, -step, step - 1, -step + 1, step + 1, -step - 1]
        draws = [0, 1, top - 1, top, top // 2]
        grid = np.array([(w, r, d) for w in weights for r in draws for d in (0, 1)])
        return {"weight": grid[:, 0], "rand": grid[:, 1], "deterministic": grid[:, 2]}

    def random(self, rng, n):
        cfg = self.cfg
        one = 1 << cfg.weight_frac
        return {"weight": rng.integers(-one, one, n),
                "rand": rng.integers(0, 1 << cfg.rand_bits, n),
                "deterministic": (rng.random(n) < 0.2).astype(np.int64)}


@cocotb.test()
async def corners(dut):
    tb = SamplerTestbench(dut, testbench_params())
    await tb.apply(tb.corners())
    tb.scoreboard.check()


@cocotb.test()
async def random_weights(dut):
    params = testbench_params()
    tb = SamplerTestbench(dut, params)
    rng = np.random.default_rng(params["seed"])
    await tb.apply(tb.random(rng, int(params["transactions"] * volume())))
    tb.scoreboard.check()
