"""The systolic MAC array (the multiplier ceiling baseline): its golden model against the
contract, the RTL against the model bit for bit and cycle for cycle (Amaranth's simulator, and
cocotb on Icarus and Verilator), and its parameter checks."""

from pathlib import Path

import numpy as np
import pytest
from amaranth.sim import Simulator

from fewmul import sim
from fewmul.golden.mac_array import reference
from fewmul.hw.mac_array import SystolicMacArray
from fewmul.sim.runner import run_testbench

from .conftest import SIMULATORS


def test_reference_follows_the_contract():
    # Hand-computed from the docstring: LOADs push rows in at the top, a MAC is x @ W.
    commands = [{"load": True, "w": [1, 2]}, {"load": True, "w": [3, -4]},
                {"load": False, "x": [1, 0]}, {"load": False, "x": [5, -1]},
                {"load": True, "w": [7, 7]}, {"load": False, "x": [1, 10]}]
    outputs, w = reference(2, 2, commands)
    assert [o.tolist() for o in outputs] == [[3, -4], [14, -22], [37, -33]]
    assert w.tolist() == [[7, 7], [3, -4]]


@pytest.mark.parametrize("kwargs, message", [
    (dict(rows=0, cols=2), r"rows must be an integer >= 1, not 0"),
    (dict(rows=2, cols=True), r"cols must be an integer >= 1, not True"),
    (dict(rows=2, cols=2, operand_bits=1), r"operand_bits must be an integer >= 2, not 1"),
    (dict(rows=2, cols=2, dsp_multipliers=-1),
     r"dsp_multipliers must be None or a non-negative integer, not -1"),
    (dict(rows=2, cols=2, hard_multiplier="dsp48"),
     r"hard_multiplier must be 'inferred' or 'mult18x18d', not 'dsp48'"),
    (dict(rows=2, cols=2, operand_bits=20, hard_multiplier="mult18x18d"),
     r"a MULT18X18D takes operands of up to 18 bits, not 20"),
])
def test_bad_parameters_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SystolicMacArray(**kwargs)


def _random_program(rng, rows, cols, bits, n):
    lo, hi = -(1 << (bits - 1)), 1 << (bits - 1)
    return [None if rng.random() < 0.2 else
            {"load": bool(rng.random() < 0.4), "x": rng.integers(lo, hi, rows).tolist(),
             "w": rng.integers(lo, hi, cols).tolist()} for _ in range(n)]


@pytest.mark.parametrize("rows, cols, bits, dsp", [(3, 4, 8, None), (4, 3, 16, 5), (1, 1, 5, 0),
                                                   (2, 5, 18, 0)])
def test_rtl_matches_reference_amaranth(rows, cols, bits, dsp):
    """Every result equals the model's and comes exactly ``latency`` cycles after its MAC;
    ``(4, 3, 16, 5)`` mixes hard (``*``) and Booth multipliers."""
    dut = SystolicMacArray(rows=rows, cols=cols, operand_bits=bits, dsp_multipliers=dsp)
    program = _random_program(np.random.default_rng(rows * 100 + cols), rows, cols, bits, 150)
    want, _ = reference(rows, cols, [c for c in program if c])
    got, issued = [], []

    async def bench(ctx):
        for cycle, command in enumerate(program + [None] * (dut.latency + 2)):
            ctx.set(dut.cmd.valid, command is not None)
            if command is not None:
                ctx.set(dut.cmd.payload, {"load": command["load"], "x": command["x"],
                                          "w": command["w"]})
                if not command["load"]:
                    issued.append(cycle)
            if ctx.get(dut.y_valid):
                got.append((cycle, [ctx.get(dut.y[j]) for j in range(cols)]))
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert [c - s for (c, _), s in zip(got, issued, strict=True)] == [dut.latency] * len(want)
    assert [g for _, g in got] == [w.tolist() for w in want]


BENCH_CASES = {
    # name: (rows, cols, operand_bits, dsp_multipliers, hard_multiplier, idle, transactions)
    "4x3-w16-mixed": (4, 3, 16, 7, "inferred", 0.2, 600),
    "2x5-w18-booth": (2, 5, 18, 0, "inferred", 0.1, 600),
    # the ECP5 build's form: MULT18X18D instances with their own registers, simulated with
    # sim/ecp5_mult18x18d.v (Yosys ships the block only as a blackbox), beside Booth PEs
    "3x4-w18-mult18x18d": (3, 4, 18, 9, "mult18x18d", 0.2, 600),
}

#: Behavioural models of the vendor blocks a hard multiplier kind instantiates.
MODELS = {"inferred": (),
          "mult18x18d": (Path(sim.__file__).with_name("ecp5_mult18x18d.v"),)}


@pytest.mark.sim
@pytest.mark.parametrize("simulator", SIMULATORS)
@pytest.mark.parametrize("case", list(BENCH_CASES))
def test_rtl_matches_reference_cocotb(simulator, case, build_dir):
    """cocotb on both simulators (``sim/tb_mac_array.py``): corner and random programs, each
    result's value and cycle scored against :func:`reference`."""
    rows, cols, bits, dsp, hard, idle, transactions = BENCH_CASES[case]
    dut = SystolicMacArray(rows=rows, cols=cols, operand_bits=bits, dsp_multipliers=dsp,
                           hard_multiplier=hard)
    params = dict(rows=rows, cols=cols, operand_bits=bits, sum_bits=dut.sum_bits,
                  latency=dut.latency, seed=sum(map(ord, case)), idle=idle,
                  transactions=transactions)
    result = run_testbench(dut, toplevel="mac_array", test_module="fewmul.sim.tb_mac_array",
                           simulator=simulator, build_dir=build_dir, params=params,
                           models=MODELS[hard])
    assert result.tests == 2 and result.failed == 0


def test_mult18x18d_option_instantiates_the_registered_block():
    """``hard_multiplier="mult18x18d"``: one MULT18X18D per hard PE, input and output registers
    on, B's enable its own (the weight loads only on a LOAD); the rest stay Booth."""
    from amaranth.back import rtlil
    text = rtlil.convert(SystolicMacArray(rows=2, cols=3, dsp_multipliers=4,
                                          hard_multiplier="mult18x18d"))
    assert text.count("cell \\MULT18X18D") == 4
    for parameter in ("REG_INPUTA_CLK", "REG_INPUTB_CLK", "REG_OUTPUT_CLK"):
        assert text.count(f'parameter \\{parameter} "CLK0"') == 4
    assert text.count('parameter \\REG_INPUTB_CE "CE1"') == 4
