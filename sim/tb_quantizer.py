"""cocotb testbench: ``fewmul.hw.quantizer.Quantizer`` against ``fewmul.golden.quantizer``.

Directed: every input value against the extreme and middle draws (zero, the most negative
value, the largest and smallest exponent, exact powers of two). Then seeded random inputs.
"""

import cocotb
import numpy as np

from fewmul.config import Config
from fewmul.golden.quantizer import quantize
from fewmul.sim.runner import testbench_params, volume
from fewmul.sim.tb_common import CombinationalHarness, Scoreboard


class QuantizerTestbench:
    def __init__(self, dut, params):
        self.cfg = Config.from_dict(params["cfg"])
        self.harness = CombinationalHarness(dut, ["x", "rand"],
                                            {"negative": False, "shift": False, "is_zero": False})
        self.scoreboard = Scoreboard("quantizer", dut._log)

    def model(self, stimulus):
        quant = quantize(stimulus["x"], stimulus["rand"], self.cfg)
        return {"negative": quant.negative, "shift": quant.shift, "is_zero": quant.is_zero}

    async def apply(self, stimulus):
        got = await self.harness.run(stimulus)
        self.scoreboard.compare(stimulus, got, self.model(stimulus))

    def corners(self):
        cfg = self.cfg
        half = 1 << cfg.act_frac
        top = (1 << cfg.rand_bits) - 1
        grid = np.array([(x, r) for x in range(-half, half) for r in (0, 1, top // 2, top)])
        return {"x": grid[:, 0], "rand": grid[:, 1]}

    def random(self, rng, n):
        half = 1 << self.cfg.act_frac
        return {"x": rng.integers(-half, half, n),
                "rand": rng.integers(0, 1 << self.cfg.rand_bits, n)}


@cocotb.test()
async def corners(dut):
    tb = QuantizerTestbench(dut, testbench_params())
    await tb.apply(tb.corners())
    tb.scoreboard.check()


@cocotb.test()
async def random_inputs(dut):
    params = testbench_params()
    tb = QuantizerTestbench(dut, params)
    rng = np.random.default_rng(params["seed"])
    await tb.apply(tb.random(rng, int(params["transactions"] * volume())))
    tb.scoreboard.check()
