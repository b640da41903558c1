# amaranth: UnusedElaboratable=no
"""Processing element: ports, and the sign-flip products against the golden sampler.

The PE is checked in RTL through every array testbench (``tests/test_array.py``, both
simulators); this is the quick stand-alone check on Amaranth's simulator.
"""

import numpy as np
import pytest
from amaranth.hdl import Shape
from amaranth.sim import Simulator

from fewmul.config import Config
from fewmul.golden.sampler import sample_signs
from fewmul.hw.pe import PE


def test_ports():
    cfg = Config()
    dut = PE(cfg)
    assert dut.latency == 1
    ports = {name: Shape.cast(m.shape).width for name, m in dut.signature.members.items()}
    assert ports["forward"] == cfg.act_bits + 1 and ports["backward"] == cfg.err_bits + 1
    assert ports["weight"] == cfg.weight_bits and ports["u"] == ports["v"] == cfg.rand_bits


@pytest.mark.parametrize("weights", ["binary", "ternary"])
def test_products_match_golden_signs(weights):
    cfg = Config(weights=weights)
    dut = PE(cfg)
    rng = np.random.default_rng(7)
    n = 150
    w = rng.integers(-2**15, 2**15, n)
    w[:4] = [-2**15, 2**15 - 1, 0, -1]
    u, v = rng.integers(0, 256, n), rng.integers(0, 256, n)
    x, d = rng.integers(-128, 128, n), rng.integers(-2**15, 2**15, n)
    x[:2], d[:2] = -128, -2**15
    det = rng.random(n) < 0.25
    signs = np.where(det, sample_signs(w, u ^ v, cfg, deterministic=True),
                     sample_signs(w, u ^ v, cfg))
    got = []

    async def bench(ctx):
        for k in range(n):
            ctx.set(dut.weight_in, int(w[k]))
            ctx.set(dut.rotate, 1)
            await ctx.tick()                                      # load the weight
            ctx.set(dut.rotate, 0)
            for port, value in ((dut.u, u[k]), (dut.v, v[k]), (dut.x, x[k]),
                                (dut.x_neg, -x[k]), (dut.delta, d[k]), (dut.delta_neg, -d[k]),
                                (dut.deterministic, det[k])):
                ctx.set(port, int(value))
            await ctx.tick()                                      # products registered
            got.append((ctx.get(dut.forward), ctx.get(dut.backward)))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert got == list(zip((signs * x).tolist(), (signs * d).tolist(), strict=True))
