"""Synthesis smoke tests: a real bitstream comes out and the nextpnr report is read."""

from pathlib import Path

import pytest

from fewmul.boards.harness import RegisteredHarness
from fewmul.boards.synth import board, synthesize
from fewmul.hw.shifter import Shifter


def test_unknown_board_is_rejected():
    with pytest.raises(ValueError, match=r"unknown board 'de0'"):
        board("de0")


@pytest.mark.synth
def test_shifter_builds_for_icebreaker(build_dir):
    report = synthesize(RegisteredHarness(Shifter(width=16, max_shift=7, frac_bits=8)),
                        board_name="icebreaker", build_dir=build_dir)
    assert Path(report.bitstream).stat().st_size > 100_000        # a whole UP5K image
    used, available = report.logic_cells()
    assert available == 5280 and 0 < used < available
    # The harness keeps the shifter: at least its 16 x 3-level mux network survives.
    assert report.cells.get("SB_LUT4", 0) >= 40
    assert report.fmax_mhz > 12 and report.constraint_mhz == pytest.approx(12, rel=1e-3)


@pytest.mark.parametrize("width", [1, 4, 5, 140])
def test_fold_is_the_parity_of_its_input_after_its_levels(width):
    """The harness's registered XOR tree: the parity of what entered ``levels`` cycles before
    (``ceil(log4(width))`` levels, at least one), every cycle."""
    import math
    import random

    from amaranth.hdl import Module, Signal
    from amaranth.sim import Simulator

    from fewmul.boards.harness import fold

    m = Module()
    value = Signal(width)
    folded = fold(m, value)
    levels = max(1, math.ceil(math.log(width, 4) - 1e-9))
    rng = random.Random(width)
    stimulus = [rng.getrandbits(width) for _ in range(40)]
    got = []

    async def bench(ctx):
        for word in stimulus + [0] * levels:
            ctx.set(value, word)
            await ctx.tick()
            got.append(ctx.get(folded))

    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert got[levels - 1:levels - 1 + len(stimulus)] == [bin(w).count("1") & 1 for w in stimulus]
