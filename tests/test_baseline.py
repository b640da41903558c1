# amaranth: UnusedElaboratable=no
"""Multiplier baseline: the RTL against its numpy model, bit for bit (Amaranth's simulator, and
cocotb on Icarus and Verilator)."""

import numpy as np
import pytest
from amaranth.hdl import Module, Signal, signed
from amaranth.lib import wiring
from amaranth.sim import Simulator

from fewmul.config import Config
from fewmul.golden.baseline import reference
from fewmul.hw.array import Op, PEArray, array_members
from fewmul.hw.baseline import MultiplierArray, booth_multiply
from fewmul.sim.runner import run_testbench

from .conftest import SIMULATORS


def test_same_ports_as_the_fewmul_array():
    """The baseline has exactly the array's shared ports (``array_members``); the fewmul array
    adds only ``clips``, the saturation events the training engine counts."""
    cfg = Config(array_rows=3, array_cols=2)
    baseline = dict(MultiplierArray(cfg).signature.members)
    assert baseline == dict(wiring.Signature(array_members(cfg)).members)
    fewmul = dict(PEArray(cfg).signature.members)
    assert list(fewmul) == list(baseline) + ["clips"]
    assert all(fewmul[name] == member for name, member in baseline.items())


@pytest.mark.parametrize("kwargs, message", [
    (dict(cfg=None), "cfg must be a fewmul.config.Config, not None"),
    (dict(cfg=Config(), dsp_multipliers=-1),
     "dsp_multipliers must be None or a non-negative integer, not -1"),
])
def test_rejects_bad_parameters(kwargs, message):
    with pytest.raises(ValueError) as info:
        MultiplierArray(**kwargs)
    assert str(info.value) == message


def test_booth_multiplier_is_exact():
    a, b = Signal(signed(6)), Signal(signed(5))
    product = Signal(signed(11))
    m = Module()
    m.d.comb += product.eq(booth_multiply(a, b))
    sim = Simulator(m)
    failures = []

    async def bench(ctx):
        for va in range(-32, 32):
            for vb in range(-16, 16):
                ctx.set(a, va)
                ctx.set(b, vb)
                if ctx.get(product) != va * vb:
                    failures.append((va, vb, ctx.get(product)))

    sim.add_testbench(bench)
    sim.run()
    assert failures == []


def _commands(cfg, rng, count):
    rows, cols = cfg.array_rows, cfg.array_cols
    half_w, half_x, half_e = (1 << (cfg.weight_bits - 1), 1 << (cfg.act_bits - 1),
                              1 << (cfg.err_bits - 1))
    commands = [dict(op=Op.LOAD, weights=rng.integers(-half_w, half_w, cols))
                for _ in range(rows)]
    ops = [Op.FORWARD, Op.BACKWARD, Op.UPDATE, Op.UPDATE, Op.FORWARD, Op.READ]
    draw = 1 << cfg.rand_bits
    for k in range(count):
        op = ops[rng.integers(len(ops))]
        # lr_offset: random, but the first commands take the smallest and the largest
        lr_offset = (0, cfg.lr_range)[k] if k < 2 else int(rng.integers(0, cfg.lr_range + 1))
        commands.append(dict(
            op=Op.UPDATE if k < 2 else op, x=rng.integers(-half_x, half_x, cols),
            delta=rng.integers(-half_e, half_e, rows),
            u2=rng.integers(0, draw, cols), v2=rng.integers(0, draw, rows),
            weights=rng.integers(-half_w, half_w, cols), lr_offset=lr_offset))
    commands += [dict(op=Op.READ) for _ in range(rows)]
    return commands


@pytest.mark.parametrize("fraction", ["truncate", "round"])
@pytest.mark.parametrize("rounding", ["stochastic", "nearest"])
@pytest.mark.parametrize("dsp", [None, 2])
@pytest.mark.parametrize("stall", [False, True])
def test_rtl_matches_reference(rounding, dsp, stall, fraction):
    # lr_shift 3 (the smallest legal) makes updates big enough to saturate weights sometimes.
    cfg = Config(array_rows=3, array_cols=4, lr_shift=3 if rounding == "nearest" else 6,
                 lr_range=3 if rounding == "nearest" else 5, update_rounding=rounding,
                 update_fraction=fraction,
                 rand_bits=2 if fraction == "round" else 8)  # 2 bits: the carry-in often acts
    rng = np.random.default_rng(7)
    commands = _commands(cfg, rng, 60)
    assert {c["lr_offset"] for c in commands if c["op"] == Op.UPDATE} == set(
        range(cfg.lr_range + 1))
    expected, _ = reference(cfg, np.zeros((3, 4), dtype=np.int64), commands)
    dut = MultiplierArray(cfg, dsp_multipliers=dsp)
    got = []
    sim = Simulator(dut)
    sim.add_clock(1e-6)

    async def driver(ctx):
        for command in commands:
            for field in ("x", "delta", "u2", "v2", "weights"):
                if field in command:
                    for k, value in enumerate(command[field]):
                        ctx.set(getattr(dut.cmd.payload, field)[k], int(value))
            ctx.set(dut.cmd.payload.op, command["op"])
            ctx.set(dut.lr_offset, command.get("lr_offset", 0))
            ctx.set(dut.cmd.valid, 1)
            await ctx.tick().until(dut.cmd.ready)
            ctx.set(dut.cmd.valid, 0)
            # lr_offset is read at the handshake only: scramble it until the next command
            ctx.set(dut.lr_offset, int(rng.integers(0, cfg.lr_range + 1)))
            if stall and rng.integers(2):
                await ctx.tick().repeat(int(rng.integers(1, 4)))

    async def monitor(ctx):
        cycle = 0
        while len(got) < len(expected):
            ready = 0 if stall and cycle % 3 == 1 else 1
            ctx.set(dut.result.ready, ready)
            *_, valid, payload = await ctx.tick().sample(dut.result.valid, dut.result.payload)
            cycle += 1
            if valid and ready:
                op = Op(payload.op)
                field = {Op.FORWARD: "acc", Op.BACKWARD: "grad", Op.READ: "weights"}[op]
                got.append((op, [int(v) for v in getattr(payload, field)]))

    sim.add_testbench(driver)
    sim.add_testbench(monitor)
    sim.run_until(1e-6 * 20 * len(commands))
    assert [(op, list(map(int, v))) for op, v in expected] == got


@pytest.mark.parametrize("dsp", [None, 0])
def test_latency_property_is_the_measured_latency(dsp):
    # Hard multipliers and Booth multipliers take the same two stages.
    cfg = Config(array_rows=4, array_cols=2)
    dut = MultiplierArray(cfg, dsp_multipliers=dsp)
    measured = []
    sim = Simulator(dut)
    sim.add_clock(1e-6)

    async def bench(ctx):
        ctx.set(dut.result.ready, 1)
        ctx.set(dut.cmd.payload.op, Op.FORWARD)
        ctx.set(dut.cmd.valid, 1)
        await ctx.tick().until(dut.cmd.ready)
        ctx.set(dut.cmd.valid, 0)
        cycles = 1
        while not ctx.get(dut.result.valid):
            await ctx.tick()
            cycles += 1
        measured.append(cycles)

    sim.add_testbench(bench)
    sim.run_until(1e-4)
    assert measured == [dut.latency]


BENCH_CASES = {
    # name: (config, dsp_multipliers, idle, backpressure, transactions)
    "4x4-mixed": (dict(array_rows=4, array_cols=4), 6, 0.2, 0.3, 800),
    "3x5-narrow-round": (dict(array_rows=3, array_cols=5, weight_bits=8, err_bits=12, err_frac=8,
                              lr_shift=3, rand_bits=2, update_fraction="round",
                              update_rounding="nearest"), 0, 0.1, 0.4, 800),
}


@pytest.mark.sim
@pytest.mark.parametrize("simulator", SIMULATORS)
@pytest.mark.parametrize("case", list(BENCH_CASES))
def test_baseline_rtl_matches_reference(simulator, case, build_dir, verilator_fast_build):
    """cocotb on both simulators: the array testbench's driver, monitor, corner and random
    programs (``sim/tb_baseline.py``), scored against :func:`reference`. ``4x4-mixed`` has
    hard (``*``) and Booth multipliers side by side."""
    config, dsp, idle, backpressure, transactions = BENCH_CASES[case]
    cfg = Config(**config)
    dut = MultiplierArray(cfg, dsp_multipliers=dsp)
    params = dict(cfg=cfg.as_dict(), seed=sum(map(ord, case)), transactions=transactions,
                  idle=idle, backpressure=backpressure)
    result = run_testbench(dut, toplevel="baseline_array", test_module="fewmul.sim.tb_baseline",
                           simulator=simulator, build_dir=build_dir, params=params)
    assert result.tests == 3 and result.failed == 0


@pytest.mark.parametrize("rows, cols", [(2, 4), (8, 4), (3, 5)])
def test_one_command_per_cycle(rows, cols):
    """Back-to-back FORWARDs with ``result.ready`` high are accepted every cycle (the MAC/s that
    ``fewmul bench synth`` reports, PEs x Fmax, assumes it): the FIFO covers the credit loop."""
    dut = MultiplierArray(Config(array_rows=rows, array_cols=cols))
    counts = {}

    async def bench(ctx):
        ctx.set(dut.result.ready, 1)
        ctx.set(dut.cmd.payload.op, Op.FORWARD)
        ctx.set(dut.cmd.valid, 1)
        accepted = results = 0
        for _ in range(200):
            accepted += ctx.get(dut.cmd.ready)
            results += ctx.get(dut.result.valid)
            await ctx.tick()
        counts.update(accepted=accepted, results=results)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert counts == {"accepted": 200, "results": 200 - dut.latency}
