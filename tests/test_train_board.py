"""``fewmul train --backend board`` over a pseudo-terminal, against a stand-in board
(``tests/board_standin.py``): the whole host path (pyserial, frames, driver, checks, report),
and every bad input of the board path: one line, non-zero exit, nothing trained."""

import json

import pytest

from fewmul.cli import main
from fewmul.training import default_config

from .board_standin import StandInBoard
from .conftest import one_line_error

#: iris, 8 hidden units: 4-8-3 (the data set sets the input and output sizes).
IRIS = ["--dataset", "iris", "--hidden", "8", "--quiet"]


def iris_config(**changes):
    return default_config(layers=(4, 8, 3), **changes)


def train_board(port, tmp_path, *extra):
    return main(["train", "--backend", "board", "--port", port, *IRIS, "--out", str(tmp_path),
                 "--timeout", "0.5", *extra])


def test_board_backend_trains_bit_exact(tmp_path, capsys):
    """Two epochs (two learning rates, LR between them), checked every 50 samples and at the end
    of each epoch; the accuracies are the golden backend's for the same run."""
    run = ["--epochs", "2", "--lr-decay", "1", "--samples", "100"]
    with StandInBoard(iris_config(lr_range=3)) as board:
        assert train_board(board.port, tmp_path, *run, "--check-every", "50") == 0
    result = json.loads((tmp_path / "train-iris-board.json").read_text())
    assert result["bit_exact"] is True and result["samples"] == 200
    assert result["checks"] == 2 + 2 * 2          # after LOAD and sample 1, then 2 per epoch
    assert [e["lr_shift"] for e in result["epochs"]] == [5, 6]
    assert board.steps == 200 and board.received.count(0x0A) >= 2      # LR per epoch
    assert main(["train", *IRIS, *run, "--out", str(tmp_path)]) == 0
    golden = json.loads((tmp_path / "train-iris-golden.json").read_text())
    assert [e["test_accuracy"] for e in result["epochs"]] == \
        [e["test_accuracy"] for e in golden["epochs"]]
    assert "200 samples bit-exact with golden on board" in capsys.readouterr().out


def test_board_backend_catches_a_wrong_weight(tmp_path, capsys):
    """A planted bug: the stand-in flips one weight at its 30th step; the read-back after 40
    samples must name it, the run exit 1 and the JSON say bit_exact false."""
    with StandInBoard(iris_config(), corrupt_step=30) as board:
        assert train_board(board.port, tmp_path, "--epochs", "1", "--check-every", "40") == 1
    err = capsys.readouterr().err
    assert "board != golden:" in err and "after sample 40: layer 0 weight [0, 0]" in err
    assert json.loads((tmp_path / "train-iris-board.json").read_text())["bit_exact"] is False


def test_missing_port(tmp_path, capsys):
    assert train_board("/dev/fewmul-no-such-port", tmp_path, "--epochs", "1") == 1
    one_line_error(capsys, "cannot open serial port '/dev/fewmul-no-such-port'", "--port")


def test_board_that_does_not_answer(tmp_path, capsys):
    with StandInBoard(iris_config(), mode="silent") as board:
        assert train_board(board.port, tmp_path, "--epochs", "1") == 1
    one_line_error(capsys, "no answer from the board", "within 0.5 s", "--program", "--baud")


def test_baud_rate_mismatch(tmp_path, capsys):
    with StandInBoard(iris_config(), mode="garbage") as board:
        assert train_board(board.port, tmp_path, "--epochs", "1", "--baud", "9600") == 1
    one_line_error(capsys, "garbled answer", "at 9600 baud", "--baud 115200")


def test_board_that_stops_answering(tmp_path, capsys):
    with StandInBoard(iris_config(), stop_after=10) as board:
        assert train_board(board.port, tmp_path, "--epochs", "1") == 1
    one_line_error(capsys, "the board stopped answering properly after 10 samples",
                   "check its cable and power")


def test_design_that_does_not_match(tmp_path, capsys):
    with StandInBoard(default_config(layers=(4, 16, 3))) as board:
        assert train_board(board.port, tmp_path, "--epochs", "1") == 1
    one_line_error(capsys, "the board has a 4-16-3 MLP with 16-bit weights",
                   "the run needs a 4-8-3 MLP with 16-bit weights", "--hidden")
    assert board.received == [0x01] and board.loads == 0 and board.steps == 0


#: wine, 16 hidden units: 13-16-3. Regions of at most 128 words split layer 0's 208 weights
#: by rows over two regions of 8 rows (fewmul.protocol.memory_map), as 784-256-10's are.
WINE_SPLIT = (["--dataset", "wine", "--hidden", "16", "--quiet"], 128)


def test_board_backend_trains_a_split_map_bit_exact(tmp_path):
    """The host finds each layer's regions from PING's depths: a stand-in whose layer 0 is two
    regions trains bit-exact, read back after every 25 samples."""
    args, region_words = WINE_SPLIT
    with StandInBoard(default_config(layers=(13, 16, 3)), region_words=region_words) as board:
        assert len(board.depths) == 5
        assert main(["train", "--backend", "board", "--port", board.port, *args,
                     "--out", str(tmp_path), "--timeout", "0.5", "--epochs", "1",
                     "--samples", "50", "--check-every", "25"]) == 0
    result = json.loads((tmp_path / "train-wine-board.json").read_text())
    assert result["bit_exact"] is True and result["samples"] == 50 and board.steps == 50


def test_design_that_does_not_match_names_a_split_map(tmp_path, capsys):
    args, region_words = WINE_SPLIT
    with StandInBoard(default_config(layers=(13, 16, 3)), region_words=region_words) as board:
        assert main(["train", "--backend", "board", "--port", board.port, *args[:2],
                     "--hidden", "8", "--quiet", "--out", str(tmp_path), "--timeout", "0.5",
                     "--epochs", "1"]) == 1
    one_line_error(capsys, "the board has a 13-16-3 MLP with 16-bit weights",
                   "the run needs a 13-8-3 MLP with 16-bit weights", "--hidden")
    assert board.loads == 0 and board.steps == 0


def test_datapath_modes_ping_cannot_see(tmp_path, capsys):
    """A board built with deterministic signs, a run with stochastic ones: caught after one
    sample (its answer or the read-back that follows it)."""
    with StandInBoard(iris_config(sampling="deterministic")) as board:
        assert train_board(board.port, tmp_path, "--epochs", "1") == 1
    err = capsys.readouterr().err
    assert "board != golden after one sample" in err and "--sampling" in err
    assert "sample 1: board answered" in err or "after the first sample: layer" in err
    assert board.steps == 1


def test_schedule_the_board_refuses(tmp_path, capsys):
    """The board was built for shifts 5 .. 6; 60 epochs halving every 15 need 5 .. 8."""
    with StandInBoard(iris_config(lr_range=1)) as board:
        assert train_board(board.port, tmp_path) == 1
    one_line_error(capsys, "the board refuses learning-rate shift 7", "--lr-decay")
    assert board.loads == 0 and board.steps == 0


def test_program_needs_a_build_for_that_board(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = ["--epochs", "1", "--program", "--board", "icebreaker"]
    assert train_board("/dev/null", tmp_path, *args) == 2
    one_line_error(capsys, "no bitstream for icebreaker at build/icebreaker-system-4x4/top.bin",
                   "fewmul build --board icebreaker --design system --rows 4 --cols 4")
    other = tmp_path / "build" / "ulx3s-85f-system-8x8"
    other.mkdir(parents=True)
    (other / "top.bit").write_bytes(b"\0" * 100)
    assert train_board("/dev/null", tmp_path, *args, "--bitstream", str(other / "top.bit")) == 2
    one_line_error(capsys, "top.bit is a .bit file, not a icebreaker bitstream (.bin)")
    (other / "top.bin").write_bytes(b"\0" * 100)
    (other / "build.json").write_text(json.dumps({"board": "ulx3s-85f", "design": "system"}))
    assert train_board("/dev/null", tmp_path, *args, "--bitstream", str(other / "top.bin")) == 2
    one_line_error(capsys, "was built for ulx3s-85f (system design), not the icebreaker trainer")


def test_program_without_openfpgaloader(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    build = tmp_path / "build" / "icebreaker-system-4x4"
    build.mkdir(parents=True)
    (build / "top.bin").write_bytes(b"\0" * 100)
    cfg = iris_config(array_rows=4, array_cols=4)
    (build / "build.json").write_text(json.dumps({"board": "icebreaker", "design": "system",
                                                  "config": cfg.as_dict()}))
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr("fewmul.boards.synth.sys.executable", str(tmp_path / "python"))
    assert train_board("/dev/null", tmp_path, "--epochs", "1", "--program", "--board",
                       "icebreaker") == 1
    one_line_error(capsys, "openFPGALoader not found", "sudo apt-get install openfpgaloader")


@pytest.mark.parametrize("args, needle", [
    (["--backend", "board"], "--backend board needs --port"),
    (["--backend", "board", "--port", "/dev/null", "--weights", "float"],
     "the board backend trains the fixed-point datapath"),
    (["--port", "/dev/null"], "--port applies to --backend board only, not --backend golden"),
    (["--backend", "rtl", "--baud", "9600"], "--baud applies to --backend board only"),
    (["--backend", "board", "--port", "/dev/null", "--program"], "--program needs --board"),
])
def test_board_options_that_do_not_fit(args, needle, tmp_path, capsys):
    assert main(["train", *IRIS, "--epochs", "1", "--out", str(tmp_path), *args]) == 2
    one_line_error(capsys, needle)
