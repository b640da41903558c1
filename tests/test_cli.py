"""The command line as a new user meets it: one line and a non-zero exit for every invalid
option, help that shows the defaults, the fit estimate before synthesis, and the results a bare
``fewmul train`` writes."""

import json

import pytest

from fewmul.boards.designs import array_config, format_fields
from fewmul.boards.fit import DoesNotFit, check_fit, estimate
from fewmul.boards.synth import BOARDS
from fewmul.cli import main
from fewmul.training import default_config

from .conftest import one_line_error

W8 = format_fields(weight_bits=8, err_bits=12, err_frac=8)


# -- every invalid option: one line, non-zero exit ----------------------------------------------

@pytest.mark.parametrize("argv, needle", [
    (["build", "--board", "icebreaker", "--design", "system", "--rows", "3"],
     "fewmul build: the engine needs a power-of-two array_rows, not 3"),
    (["build", "--board", "icebreaker", "--rows", "0"], "array_rows must be in [1, 256], not 0"),
    (["build", "--board", "icebreaker", "--err-bits", "12", "--err-frac", "11"],
     "err_frac 11 does not fit act_bits 8 and err_bits 12"),
    (["build", "--board", "icebreaker", "--hidden", "8"],
     "--hidden applies to --design system only"),
    (["build", "--board", "ulx3s-85f", "--dataset", "mnist"],
     "--dataset applies to --design system only"),
    (["build", "--board", "ulx3s-85f", "--design", "system", "--dataset", "mnist"],
     # 784-256-10: addressable since a layer splits over regions; its 16-bit weights are more
     # than the ECP5-85F's block RAM holds
     "system 8x8 does not fit ulx3s-85f: it needs 228 of the ECP5-85F's 208 DP16KD"),
    (["build", "--board", "ulx3s-85f", "--baud", "3000000"],
     "--baud applies to --design system only"),
    (["build", "--board", "ulx3s-85f", "--design", "system", "--baud", "0"],
     "baud must be a positive integer, not 0"),
    (["build", "--board", "ulx3s-85f", "--design", "system", "--data-capacity", "-3"],
     "data_capacity must be an integer >= 0, not -3"),
    (["build", "--board", "icebreaker", "--rows", "8", "--cols", "8"],
     "fewmul 8x8 does not fit icebreaker: it needs about 10211 of the UP5K's 5280 logic cells"),
    (["build", "--board", "icebreaker", "--design", "system"],
     "of the UP5K's 30 block RAMs"),
    (["build", "--board", "icebreaker", "--design", "system", "--hidden", "64"],
     "of the UP5K's 30 block RAMs"),
    (["train", "--epochs", "0"], "fewmul train: epochs must be an integer >= 1, not 0"),
    (["train", "--samples", "0"], "samples must be an integer >= 1, not 0"),
    (["train", "--lr-decay", "-1"], "lr_decay must be an integer >= 0, not -1"),
    (["train", "--weight-bits", "2"], "weight_bits must be in [3, 24], not 2"),
    (["train", "--init-range", "0"], "init_range must be positive, not 0.0"),
    (["train", "--simulator", "icarus"], "--simulator applies to --backend rtl only"),
    (["train", "--check-every", "10"], "--check-every applies to --backend rtl / board only"),
    (["train", "--backend", "rtl", "--check-every", "-1"],
     "check_every must be an integer >= 0, not -1"),
    (["train", "--lr-range", "1"], "raise lr_range to 3"),
    (["train", "--backend", "rtl", "--weights", "float"],
     "the rtl backend trains the fixed-point datapath"),
])
def test_invalid_options_are_one_line(argv, needle, capsys, tmp_path):
    assert main([*argv, *(["--out", str(tmp_path)] if argv[0] == "train" else [])]) == 2
    one_line_error(capsys, needle)


def test_debug_shows_the_traceback(monkeypatch):
    argv = ["build", "--board", "icebreaker", "--design", "system", "--rows", "3"]
    with pytest.raises(ValueError, match="power-of-two array_rows"):
        main(["--debug", *argv])
    monkeypatch.setenv("FEWMUL_DEBUG", "1")
    with pytest.raises(ValueError, match="power-of-two array_rows"):
        main(argv)


# -- help ---------------------------------------------------------------------------------------

def test_build_help_names_every_design(capsys):
    with pytest.raises(SystemExit):
        main(["build", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    from fewmul.boards.designs import DESIGNS
    assert "{" + ",".join(DESIGNS) + "}" in text and "system: the whole trainer" in text
    assert all(f"{design}: " in text for design in DESIGNS)
    assert "icebreaker 4x4" in text


def option_help(text, option):
    """The help of ``option`` in argparse's help ``text`` (its lines up to the next option)."""
    lines = text.split("\n  " + option + " ", 1)[1].split("\n")
    block = [lines[0]]
    for line in lines[1:]:
        if line.lstrip().startswith("-") or not line.startswith(" " * 10):
            break
        block.append(line)
    return " ".join(" ".join(block).split())


def test_train_help_has_a_description_and_every_default(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = capsys.readouterr().out
    assert "Train an MLP on a bundled data set" in " ".join(out.split())
    for option, default in [("--dataset", "digits"), ("--epochs", "60"), ("--hidden", "256"),
                            ("--weight-bits", "16"), ("--activation", "htanh"),
                            ("--backend", "golden"), ("--out", "results"),
                            ("--lr-decay", "15"), ("--update-fraction", "round")]:
        assert f"(default: {default})" in option_help(out, option), option


def test_doctor_checks_the_gowin_tools():
    from fewmul.commands.doctor import board_tools
    required, optional = board_tools()
    names = [s.name for s in required]
    assert names == ["nextpnr-himbaechel-gowin", "apycula (gowin_pack)"]
    assert all(s.ok for s in required), required           # installed by `make setup`
    assert [s.name for s in optional] == ["openFPGALoader"]


# -- the fit estimate ---------------------------------------------------------------------------

@pytest.mark.parametrize("board_name, design, rows, cols, fmt, message", [
    # the streaming engine keeps every memory in block RAM (the data set in SPRAM is not yet
    # there); docs/results.md "does not fit / build"
    ("icebreaker", "system", 4, 4, {}, "of the UP5K's 30 block RAMs"),
    ("icebreaker", "fewmul", 8, 4, {}, "about 6051 of the UP5K's 5280 logic cells"),
    ("icebreaker", "fewmul", 10, 4, W8, "of the UP5K's 5280 logic cells"),
    ("icebreaker", "baseline", 3, 4, {}, "of the UP5K's 5280 logic cells"),
    ("ulx3s-85f", "fewmul", 32, 32, W8, "of the ECP5-85F's 83640 LUTs"),
    # the trainer on a 16 x 16 tile: 256 TilePEs of about 470 LUTs each (docs/engine.md)
    ("ulx3s-85f", "system", 16, 16, {}, "of the ECP5-85F's 83640 LUTs"),
    ("tangnano9k", "fewmul", 8, 8, {}, "about 7165 of the GW1NR-9's 6480 flip-flops"),
])
def test_fit_refuses_what_does_not_fit(board_name, design, rows, cols, fmt, message):
    with pytest.raises(DoesNotFit, match=message):
        check_fit(BOARDS[board_name], design, array_config(rows, cols, **fmt))


@pytest.mark.parametrize("board_name, design, rows, cols, fmt", [
    # the largest measured builds that fit (docs/results.md, docs/engine.md)
    ("icebreaker", "fewmul", 6, 4, {}),
    ("icebreaker", "fewmul", 8, 4, W8),
    ("icebreaker", "baseline", 2, 4, {}),
    ("ulx3s-85f", "fewmul", 16, 16, {}),
    ("ulx3s-85f", "system", 8, 8, {}),
])
def test_fit_accepts_what_was_built(board_name, design, rows, cols, fmt):
    check_fit(BOARDS[board_name], design, array_config(rows, cols, **fmt))


@pytest.mark.parametrize("board_name", list(BOARDS))
def test_every_board_default_fits(board_name):
    target = BOARDS[board_name]
    est = check_fit(target, "fewmul", array_config(*target.array))
    assert est.logic < 0.9 * est.chip.logic


def test_block_rams_follow_the_memories():
    """The estimate's block RAMs of the iCE40 6 x 4 array: its result FIFO (6 entries of 187
    bits with W16: 12 x 16-bit EBRs wide) measured 14 SB_RAM40_4K; and a memory read
    combinationally is never block RAM."""
    est = estimate(BOARDS["icebreaker"], "fewmul", array_config(6, 4))
    assert est.brams == 14
    from fewmul.boards.fit import CHIPS, block_rams
    assert block_rams(CHIPS["ice40up5k"], [(256, 16, 1, 0)]) == 1
    assert block_rams(CHIPS["ice40up5k"], [(257, 16, 1, 0)]) == 2
    assert block_rams(CHIPS["ice40up5k"], [(256, 16, 2, 0)]) == 2      # a copy per read port
    assert block_rams(CHIPS["ice40up5k"], [(4096, 16, 0, 1)]) == 0
    assert block_rams(CHIPS["ice40up5k"], [(8, 8, 1, 0)]) == 0         # 64 FFs < one EBR
    assert block_rams(CHIPS["ecp5-85f"], [(1024, 36, 1, 0)]) == 2      # 512 x 36 each


# -- fewmul train as a new user -----------------------------------------------------------------

def test_bare_train_writes_json_and_plot(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--dataset", "iris", "--hidden", "8", "--epochs", "2", "--quiet"]) == 0
    result = json.loads((tmp_path / "results" / "train-iris-golden.json").read_text())
    assert (tmp_path / "results" / "train-iris-golden.png").stat().st_size > 1000
    assert result["split"] == {"test_fraction": 0.2, "random_state": 0, "stratified": True,
                               "train": 120, "test": 30}
    assert result["wall_seconds"] > 0
    assert "wrote results/train-iris-golden.json" in capsys.readouterr().out


def test_split_is_the_data_sets(tmp_path):
    """The JSON's split is the one golden.data makes (an oracle from scikit-learn itself)."""
    import numpy as np
    from sklearn.datasets import load_wine
    from sklearn.model_selection import train_test_split

    from fewmul.golden import data
    from fewmul.training import SPLIT
    bunch = load_wine()
    _, _, y_train, y_test = train_test_split(
        bunch.data, bunch.target, test_size=SPLIT["test_fraction"],
        random_state=SPLIT["random_state"], stratify=bunch.target if SPLIT["stratified"] else None)
    ds = data.load("wine", default_config())
    assert np.array_equal(ds.y_train, y_train) and np.array_equal(ds.y_test, y_test)


def test_samples_apply_to_the_golden_backend(tmp_path):
    assert main(["train", "--dataset", "iris", "--hidden", "8", "--epochs", "2", "--samples",
                 "10", "--quiet", "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "train-iris-golden.json").read_text())
    assert result["config"]["samples"] == 10
    assert result["samples_per_second"] == pytest.approx(
        20 / (20 / result["samples_per_second"]))


def test_long_schedule_sizes_lr_range(tmp_path):
    assert main(["train", "--dataset", "iris", "--hidden", "8", "--epochs", "80", "--samples",
                 "4", "--quiet", "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "train-iris-golden.json").read_text())
    assert result["config"]["lr_range"] == 5                  # shifts 5 .. 10
    assert result["epochs"][-1]["lr_shift"] == 10


def test_float_weights_report_no_multiplier_free_figure(tmp_path, capsys):
    assert main(["train", "--dataset", "iris", "--hidden", "8", "--epochs", "1", "--weights",
                 "float", "--quiet", "--out", str(tmp_path)]) == 0
    line = capsys.readouterr().out.splitlines()[0]
    assert line.startswith("iris 4-8-3 float SGD, golden: test accuracy")
    assert "multiplier-free" not in line and "float float" not in line
