"""fewmul bench trainer: its arithmetic from the protocol (docs/protocol.md) and its rows."""

import pytest

from fewmul.bench_trainer import (
    ROW_KEYS,
    chip_roofline,
    link_seconds,
    make_row,
    markdown,
    median_build,
    plot,
    upload_seconds,
)
from fewmul.hw.roofline import Assumptions, roofline
from fewmul.protocol import data_records_per_frame
from fewmul.training import default_config

CFG = default_config().replace(layers=(64, 64, 10), array_rows=8, array_cols=8)


def test_upload_time_counts_every_frame_byte():
    # docs/protocol.md: a frame is SYNC, opcode, LE16 length, payload, CRC16 (6 bytes around
    # the payload); a DATA request carries address and count (4 bytes) and its records
    # (label + 64 pixels), as many as fit 256 payload bytes: 3; the answer is empty.
    frames = -(-1437 // 3)
    wire = frames * (6 + 4) + 1437 * 65 + frames * 6
    assert upload_seconds(CFG, 1437, 115_200) == pytest.approx(wire * 10 / 115_200)
    assert upload_seconds(CFG, 1437, 3_000_000) == pytest.approx(wire * 10 / 3_000_000)
    assert data_records_per_frame(64, 256) == 3


def test_epoch_link_time():
    # per epoch: LR (1 byte) and its empty answer, EPOCH (8) and its answer (correct, cycles,
    # one clips count per layer: LE32 each)
    wire = (6 + 1) + 6 + (6 + 8) + (6 + 4 * (2 + CFG.n_layers))
    assert link_seconds(CFG, 3_000_000) == pytest.approx(wire * 10 / 3_000_000)


def test_chip_roofline_is_not_the_engine_draw_rate():
    # docs/engine.md (d): one draw a cycle binds 64-256-10 on the ECP5-85F at
    # max(64 + 256, 256 + 10) = 320 cycles, a choice of this engine; the chip's bound is its
    # datapath (162), and the trainer is measured against that.
    cfg = CFG.replace(layers=(64, 256, 10))
    assert roofline(cfg, "ecp5-85f", assume=Assumptions(draws_per_cycle=1)).cycles == 320
    roof = chip_roofline(cfg, "ecp5-85f")
    assert roof.binds != "rng"
    assert roof.cycles == roofline(cfg, "ecp5-85f", assume=Assumptions(draws_per_cycle=64)).cycles


def test_row_rate_is_an_epoch_over_its_time():
    build = {"fmax_mhz": 50.0, "constraint_mhz": 75.0, "meets_timing": False,
             "utilization": {"DP16KD": {"used": 9, "available": 208}}}
    sim = {"epochs": [{"count": 10, "cycles": 2000}, {"count": 10, "cycles": 2200}],
           "mismatches": []}
    roof = roofline(CFG, "ecp5-85f")
    row = make_row("ulx3s-85f", CFG, build, sim, 1000.0, roof, roof)
    assert set(ROW_KEYS) <= set(row)
    assert row["cycles_per_sample"] == 210
    epoch_s = 1437 * 210 / 50e6 + link_seconds(CFG, 3_000_000)
    assert row["samples_per_s"] == round(1437 / epoch_s)
    assert row["bit_exact"] and row["fits"] and not row["meets_clock"]
    assert row["resources"] == {"DP16KD": [9, 208]}
    assert "| ulx3s-85f | 64-64-10 | 8 | yes | 50.0 (75) | 210 |" in markdown([row])


def test_row_of_a_design_that_does_not_fit():
    row = make_row("icebreaker", CFG, {"fits": False, "error": "no BELs"}, None, 1000.0,
                   None, None)
    assert not row["fits"] and row["samples_per_s"] is None and not row["bit_exact"]
    assert row["build_error"] == "no BELs"


def test_plot_draws_rows_that_fit(tmp_path):
    build = {"fmax_mhz": 50.0, "constraint_mhz": 75.0, "utilization": {}}
    sim = {"epochs": [{"count": 10, "cycles": 2000}], "mismatches": []}
    roof = roofline(CFG, "ecp5-85f")
    rows = [make_row("ulx3s-85f", CFG, build, sim, 1000.0, roof, roof),
            make_row("icebreaker", CFG, {"fits": False, "error": "no BELs"}, None, 1000.0,
                     None, None)]
    path = plot(rows, tmp_path / "img" / "trainer.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_seeds_report_the_median_fmax_build_and_every_seed():
    """Three seeds: the row's figures are the middle build's (a real bitstream, not an
    average), every seed's Fmax beside it in the row and the table; a seed that failed to
    build is listed and not chosen."""
    builds = [{"seed": 1, "fmax_mhz": 71.0}, {"seed": 2, "fmax_mhz": 68.75},
              {"seed": 3, "fmax_mhz": 64.0}, {"seed": 4, "fits": False}]
    chosen = median_build(builds)
    assert chosen["seed"] == 2 and chosen["fmax_mhz"] == 68.75
    assert chosen["fmax_seeds_mhz"] == [[1, 71.0], [2, 68.75], [3, 64.0], [4, None]]
    sim = {"epochs": [{"count": 10, "cycles": 7000}], "mismatches": []}
    roof = roofline(CFG, "ecp5-85f")
    row = make_row("ulx3s-85f", CFG, {**chosen, "constraint_mhz": 75.0}, sim, 1.0, roof, roof)
    assert row["fmax_mhz"] == 68.75 and row["seed"] == 2
    assert "68.8 (75); seeds 1 / 2 / 3: 71.0 / 68.8 / 64.0 |" in markdown([row])
    assert median_build([{"seed": 2, "fits": False}])["fmax_seeds_mhz"] == [[2, None]]


def test_no_build_never_builds(tmp_path):
    """--no-build with a report missing says so instead of starting a build (which, with a
    build still running into the same directory, deleted that build's nextpnr report)."""
    from fewmul.bench_trainer import _build
    with pytest.raises(FileNotFoundError, match="--no-build: no build report at"):
        _build("ulx3s-85f", None, tmp_path / "seed3", 3, True)
    (tmp_path / "seed3").mkdir()
    (tmp_path / "seed3" / "report.json").write_text('{"seed": 3, "fmax_mhz": 65.59}')
    assert _build("ulx3s-85f", None, tmp_path / "seed3", 3, True)["fmax_mhz"] == 65.59


def test_a_design_the_estimate_refuses_is_not_built(tmp_path):
    """The fit estimate runs before Yosys, as in fewmul build: the iCEBreaker trainer with the
    digits set on chip is refused in a second with the resource and by how much (it once went
    through synthesis and placement to fail there)."""
    from fewmul.bench_trainer import POINTS, _build
    board, layers, lanes, fields = next(p for p in POINTS if p[0] == "icebreaker")
    cfg = CFG.replace(layers=layers, array_rows=lanes, array_cols=lanes, **fields)
    report = _build(board, cfg, tmp_path, 1, False)
    assert report["fits"] is False
    assert "does not fit icebreaker: it needs" in report["error"]
    assert "block RAMs" in report["error"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]
