"""Board tops, PLL settings, the build command and the synthesis sweep's search."""

import json
from pathlib import Path

import pytest

from fewmul import bench_synth
from fewmul.boards.clocks import ecp5_pll_params, ice40_pll_params
from fewmul.boards.designs import array_config, make_design
from fewmul.boards.synth import BOARDS, ProgrammerMissing, build_design, openfpgaloader
from fewmul.cli import main
from fewmul.commands.build import summary


@pytest.mark.parametrize("target, divr, divf, divq", [(24, 0, 63, 5), (30, 0, 79, 5),
                                                       (48, 0, 63, 4)])
def test_ice40_pll_matches_icepll(target, divr, divf, divq):
    # The dividers `yowasp-icepll -i 12 -o <target>` prints.
    pll = ice40_pll_params(12, target)
    assert pll.output_mhz == pytest.approx(target)
    assert (pll.params["DIVR"], pll.params["DIVF"], pll.params["DIVQ"]) == (divr, divf, divq)
    assert pll.params["FILTER_RANGE"] == 1


@pytest.mark.parametrize("input_mhz, target", [(25, 75), (25, 100), (48, 75), (25, 50)])
def test_ecp5_pll_in_range(input_mhz, target):
    pll = ecp5_pll_params(input_mhz, target)
    p = pll.params
    assert abs(pll.output_mhz - target) < 0.5
    assert input_mhz / p["CLKI_DIV"] * p["CLKFB_DIV"] == pytest.approx(pll.output_mhz)
    assert 400 <= pll.output_mhz * p["CLKOP_DIV"] <= 800


def test_impossible_pll_is_rejected():
    with pytest.raises(ValueError, match=r"no iCE40 PLL setting for 12 MHz in, 2000 MHz out"):
        ice40_pll_params(12, 2000)


def test_unknown_design_is_rejected():
    with pytest.raises(ValueError, match=r"unknown design 'gpu'; choose one of fewmul, baseline"):
        make_design("gpu", array_config(1, 1))


def test_every_board_has_a_top_and_a_clock():
    for target in BOARDS.values():
        module = target.board_module()
        assert module.CLOCK_MHZ > 0 and callable(module.top)
        assert target.make_platform() is not None


def test_program_without_openfpgaloader_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr("fewmul.boards.synth.sys.executable", str(tmp_path / "python"))
    with pytest.raises(ProgrammerMissing, match=r"openFPGALoader not found: install it with "
                       r"`sudo apt-get install openfpgaloader`"):
        openfpgaloader()


def test_build_rejects_bad_config(capsys):
    assert main(["build", "--board", "icebreaker", "--rows", "0"]) == 2
    assert "array_rows must be in [1, 256], not 0" in capsys.readouterr().err


def test_summary_fits_one_screen():
    report = {
        "board": "icebreaker", "device": "ice40up5k", "design": "fewmul", "rows": 8, "cols": 8,
        "pes": 64, "fmax_mhz": 30.5, "constraint_mhz": 24.0, "meets_timing": True,
        "logic_cells": {"used": 5000, "available": 5280},
        "utilization": {"ICESTORM_LC": {"used": 5000, "available": 5280},
                        "ICESTORM_RAM": {"used": 4, "available": 30}},
        "peak_macs_per_s": 64 * 30.5e6, "bitstream": "build/top.bin", "seconds": 40.0,
    }
    text = summary(report)
    assert len(text.splitlines()) <= 24
    assert "64 PEs" in text and "meets timing" in text and "1.95 GMAC/s" in text
    assert "ICESTORM_RAM 4/30" in text


def test_sweep_finds_the_largest_passing_shape(monkeypatch, tmp_path):
    # Pretend every shape up to 40 PEs passes: the sweep must grow, fail, bisect, then seed.
    built = []

    def fake(device, design, rows, cols, seed, out, log, fmt=None, router=None):
        built.append((rows * cols, seed))
        fits = rows * cols <= 40
        return {"key": f"{rows}x{cols}/{seed}", "rows": rows, "cols": cols, "pes": rows * cols,
                "seed": seed, "fits": fits, "passes": fits, "fmax_mhz": 30.0 + seed,
                "constraint_mhz": 24.0}

    monkeypatch.setattr(bench_synth.build, "build_point", fake)
    shapes = [(1, 1), (2, 2), (4, 4), (4, 8), (6, 6), (6, 8), (8, 8), (16, 16)]
    shape, builds = bench_synth.sweep("ice40up5k", "fewmul", shapes, seeds=3, out=tmp_path,
                                      log=None)
    assert shape == (6, 6)
    assert [b["seed"] for b in builds] == [1, 2, 3]
    best = bench_synth.best_build(builds)
    assert best["fmax_seeds_mhz"] == {"min": 31.0, "median": 32.0, "max": 33.0,
                                      "seeds": [1, 2, 3], "seeds_meeting": [1, 2, 3]}
    assert best["peak_macs_per_s"] == 36 * 32e6
    assert bench_synth.seeds_meeting(best["fmax_seeds_mhz"], 24.0) == ""
    # A clock only some seeds meet: the table says how many (the best is chosen by seed 1).
    tight = bench_synth.best_build([{**b, "constraint_mhz": 32.0} for b in builds])
    assert tight["fmax_seeds_mhz"]["seeds_meeting"] == [2, 3]
    assert bench_synth.seeds_meeting(tight["fmax_seeds_mhz"], 32.0) == (
        " 2 of 3 seeds meet 32 MHz")


# -- real place-and-route, one smallest build per board family --------------------------------

@pytest.mark.synth
@pytest.mark.parametrize("board_name, design, rows, cols", [
    ("icebreaker", "fewmul", 1, 2),
    ("ulx3s-85f", "fewmul", 1, 2),
    ("orangecrab-85f", "baseline", 1, 1),
    ("tangnano9k", "fewmul", 1, 2),
])
def test_smallest_array_builds(board_name, design, rows, cols, build_dir):
    report = build_design(board_name, design, array_config(rows, cols), build_dir=build_dir)
    target = BOARDS[board_name]
    assert report["device"] == target.device and report["pes"] == rows * cols
    assert Path(report["bitstream"]).stat().st_size > 50_000
    assert 0 < report["logic_cells"]["used"] < report["logic_cells"]["available"]
    assert report["fmax_mhz"] > 0
    clock = target.board_module().CLOCK_MHZ
    assert report["constraint_mhz"] == pytest.approx(clock, rel=0.01)
    assert report["peak_macs_per_s"] == pytest.approx(rows * cols * report["fmax_mhz"] * 1e6)
    if design == "baseline":
        dsp = {"ecp5": "MULT18X18D", "ice40": "ICESTORM_DSP", "gowin": "MULT18X18"}
        assert report["utilization"][dsp[target.family]]["used"] >= rows * cols
    json.dumps(report)                                    # plain JSON all the way down


@pytest.mark.synth
def test_build_command_writes_report(tmp_path, capsys):
    path = tmp_path / "report.json"
    assert main(["build", "--board", "icebreaker", "--design", "baseline", "--rows", "1",
                 "--cols", "1", "--out", str(tmp_path / "b"), "--json", str(path)]) == 0
    report = json.loads(path.read_text())
    for key in ("board", "device", "design", "pes", "fmax_mhz", "constraint_mhz",
                "utilization", "peak_macs_per_s", "bitstream"):
        assert key in report
    assert report["utilization"]["ICESTORM_DSP"]["used"] == 1
    assert "baseline array 1x1 = 1 PEs on icebreaker" in capsys.readouterr().out


def test_format_fields_keep_the_update_a_right_shift():
    from fewmul.boards.designs import format_fields, format_tag
    assert format_fields() == {}
    assert format_tag(array_config(2, 2, **format_fields())) == ""
    narrow = format_fields(weight_bits=8, err_bits=12, err_frac=8)
    assert narrow == {"weight_bits": 8, "err_bits": 12, "err_frac": 8}
    assert format_tag(array_config(2, 2, **narrow)) == "w8e12f8"
    # 24-bit weights, 8-bit errors (6 fraction bits): lr_shift must rise to 23 - 6 = 17.
    wide = format_fields(weight_bits=24, err_bits=8)
    assert wide == {"weight_bits": 24, "err_bits": 8, "err_frac": 6, "lr_shift": 17}
    with pytest.raises(ValueError, match=r"not a format field: rows"):
        format_fields(rows=3)


def test_sweep_log_keeps_formats_apart(tmp_path):
    # Two formats of the same shape: different keys, and each format's report sees only its own
    # (its passing build with the highest peak MAC/s).
    log = bench_synth.PointLog(tmp_path / "points.jsonl")
    narrow = {"weight_bits": 8, "err_bits": 12, "err_frac": 8}
    for tag, fmt, pes_ok in [("", {}, 4), ("w8e12f8", narrow, 8)]:
        for rows in (1, 2, 4):
            fits = 2 * rows <= pes_ok
            log.add({"key": bench_synth.point_key("ice40up5k", "fewmul", rows, 2, 1, tag),
                     "device": "ice40up5k", "design": "fewmul", "rows": rows, "cols": 2,
                     "pes": 2 * rows, "seed": 1, "format": tag, "format_fields": fmt,
                     "fits": fits, "passes": fits, "fmax_mhz": 30.0, "constraint_mhz": 24.0})
    # A larger default-format array that passes at half the clock does less: not the best.
    log.add({"key": bench_synth.point_key("ice40up5k", "fewmul", 3, 2, 1), "device": "ice40up5k",
             "design": "fewmul", "rows": 3, "cols": 2, "pes": 6, "seed": 1, "fits": True,
             "passes": True, "fmax_mhz": 15.0, "constraint_mhz": 12.0})
    assert len(log.points) == 7
    log = bench_synth.PointLog(tmp_path / "points.jsonl", offline=True)       # read back
    default, _ = bench_synth.sweep("ice40up5k", "fewmul", [], seeds=1, out=tmp_path, log=log)
    small, _ = bench_synth.sweep("ice40up5k", "fewmul", [], seeds=1, out=tmp_path, log=log,
                                 fmt=narrow)
    assert (default, small) == ((2, 2), (4, 2))
    assert bench_synth.format_of(log, "ice40up5k", "w8e12f8") == narrow
    assert bench_synth.format_label("w8e12f8") == "W8 E12.8"


def test_critical_path_names_the_design_signals(tmp_path):
    def seg(kind, delay, a, b):
        return {"type": kind, "delay": delay, "from": {"cell": a}, "to": {"cell": b}}
    report = {"critical_paths": [
        {"from": "<async>", "to": "posedge clk", "path": [seg("routing", 9.0, "pin", "pin")]},
        {"from": "posedge clk", "to": "posedge clk", "path": [
            seg("clk-to-q", 1.0, "harness.block.pe_0_1.x_SB_DFF_Q_6_DFFLC",
                "harness.block.pe_0_1.x_SB_DFF_Q_6_DFFLC"),
            seg("routing", 2.0, "harness.block.pe_0_1.x_SB_DFF_Q_6_DFFLC", "$nextpnr_LC_1"),
            seg("logic", 0.5, "$nextpnr_LC_1", "harness.block.q_shift_1_SB_DFFESR_Q_2_D_LC"),
            seg("setup", 0.25, "harness.block.q_shift_1_SB_DFFESR_Q_2_D_LC",
                "harness.block.q_shift_1_SB_DFFESR_Q_2_D_LC")]}]}
    (tmp_path / "top.report.json").write_text(json.dumps(report))
    assert bench_synth.critical_path(tmp_path) == {
        "through": ["pe_0_1.x", "q_shift_1"], "logic_ns": 1.75, "routing_ns": 2.0,
        "total_ns": 3.75}
    assert bench_synth.critical_path(tmp_path / "missing") is None


def test_best_rows_merge_by_device_format_and_array(tmp_path):
    """``docs/results/synth.json``: one row per best build, multiplier designs as ``baseline``,
    and a later run of one design replaces only its own row."""
    from fewmul.bench_synth.rows import best_rows, merge_rows
    from fewmul.bench_synth.settings import shapes_for

    def build(design, rows, cols, fmax, dsp):
        return {"design": design, "rows": rows, "cols": cols, "pes": rows * cols,
                "logic_cells": {"used": 100, "available": 83640}, "constraint_mhz": 75.0,
                "utilization": {"MULT18X18D": {"used": dsp, "available": 156}},
                "fmax_seeds_mhz": {"min": fmax - 1, "median": fmax, "max": fmax + 1,
                                   "seeds": [1, 2, 3]}, "peak_macs_per_s": rows * cols * fmax}
    best = {("ecp5-85f", ""): {"fewmul": build("fewmul", 16, 8, 80.0, 0), "baseline": None,
                               "systolic": build("systolic", 12, 13, 100.0, 156)}}
    path = tmp_path / "synth.json"
    rows = merge_rows(path, best_rows(best))
    assert [(r["design"], r["array"], r["dsp"], r["pes"]) for r in rows] == [
        ("fewmul", "fewmul", 0, 128), ("baseline", "systolic", 156, 156)]
    again = merge_rows(path, best_rows({("ecp5-85f", ""): {
        "systolic": build("systolic", 16, 8, 110.0, 128)}}))
    assert [(r["array"], r["fmax_mhz_median"]) for r in again] == [("fewmul", 80.0),
                                                                  ("systolic", 110.0)]
    assert json.loads(path.read_text()) == again
    assert shapes_for("ecp5-85f", "systolic")[3] == (12, 13)          # all 156 MULT18X18D
    assert shapes_for("ecp5-85f", "fewmul", quick=True) == [(4, 4), (8, 8)]


def test_bench_synth_shows_the_command_that_ran():
    """docs/results.md shows the invocation above a bench synth section (a report from the log
    is not the sweep's default command); outside the CLI, the default command."""
    from fewmul.bench_synth.command import COMMAND, invocation
    argv = ["/venv/bin/fewmul", "bench", "synth", "--report-only", "--note", "a b"]
    assert invocation(argv) == "fewmul bench synth --report-only --note 'a b'"
    assert invocation(["pytest", "-k", "x"]) == COMMAND


def test_bench_synth_notes_come_from_the_option_and_the_file(tmp_path):
    from argparse import Namespace

    from fewmul.bench_synth.command import _notes
    note = tmp_path / "note.md"
    note.write_text("\nfrom the file\n\n")
    assert _notes(Namespace(note="inline", note_file=str(note))) == ["inline", "from the file"]
    assert _notes(Namespace(note="", note_file=None)) == []
