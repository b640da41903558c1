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
