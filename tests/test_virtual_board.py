"""The virtual board (``fewmul board sim``): the board top in Verilator behind a pty.

The training test goes the whole host path a real board takes: the CLI in a subprocess serves a
``/dev/pts/N``, ``fewmul.host.Device`` over ``SerialTransport`` (pyserial) drives it, and every
answer and every weight read back must equal the golden model's (``fewmul.golden.mlp``).
"""

import os
import re
import select
import signal
import subprocess
import sys

import numpy as np
import pytest

from fewmul.boards.synth import board
from fewmul.cli import main
from fewmul.commands.train import default_config
from fewmul.golden import data as datasets
from fewmul.golden.mlp import init_network, train_step
from fewmul.golden.rng import StreamSet, seed_states
from fewmul.host import Device, SerialTransport
from fewmul.protocol import Counter
from fewmul.sim.virtual_board import VirtualBoardError, board_sources

#: A small trainer: seconds to train, ~30 s to compile once (cached in build/virtual-board).
SMALL = dict(hidden=8, rows=2, cols=2, data_capacity=1437)


def small_config():
    return default_config(layers=(64, SMALL["hidden"], 10), array_rows=SMALL["rows"],
                          array_cols=SMALL["cols"])


@pytest.mark.parametrize("board_name, clk, busy_invert", [("icebreaker", "clk12_0__i", True),
                                                          ("ulx3s-85f", "clk25_0__i", False)])
def test_pins_are_the_boards(board_name, clk, busy_invert):
    # The board files name the pins; the iCEBreaker's LEDs are active low (pins-n).
    sources = board_sources(board_name, small_config(), divisor=6)
    assert (sources.clk, sources.rx, sources.tx, sources.busy) == (
        clk, "uart_0__rx__i", "uart_0__tx__o", "led_0__o")
    assert sources.busy_invert is busy_invert
    text = dict(sources.verilog)["board.v"]
    assert "SB_PLL40" not in text and "EHXPLLL" not in text        # the PLL is stood in for
    assert ("~busy_pin" in sources.wrapper()) is busy_invert


def test_board_build_keeps_its_pll():
    # simulated defaults to False: what `fewmul build` synthesizes still has the PLL primitive.
    from fewmul.boards.designs import make_design
    target = board("icebreaker")
    top = target.board_module().top(make_design("system", small_config()))
    plan = target.make_platform().build(top, do_build=False)
    assert "SB_PLL40_PAD" in plan.files["top.il"]


def test_board_without_uart_is_refused(capsys):
    with pytest.raises(VirtualBoardError, match=r"board 'orangecrab-85f' has no UART for the "
                                                r"trainer; boards with one: icebreaker"):
        board_sources("orangecrab-85f", small_config())
    assert main(["board", "sim", "--board", "orangecrab-85f"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "has no UART" in err[0]


@pytest.mark.parametrize("argv, message", [
    (["--divisor", "3"], "the UART divisor must be an integer >= 4, not 3"),
    (["--rows", "0"], "array_rows must be in [1, 256], not 0"),
    (["--config", "/nonexistent.json"], "No such file or directory"),
])
def test_bad_options_are_one_line(argv, message, capsys):
    assert main(["board", "sim", "--board", "icebreaker", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err


def _start(board_name, timeout=600):
    argv = [sys.executable, "-m", "fewmul", "board", "sim", "--board", board_name,
            "--hidden", str(SMALL["hidden"]), "--rows", str(SMALL["rows"]),
            "--cols", str(SMALL["cols"]), "--data-capacity", str(SMALL["data_capacity"])]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    line = process.stdout.readline().strip() if ready else ""
    if not re.fullmatch(r"/dev/pts/\d+", line):
        process.kill()
        raise AssertionError(f"no port from fewmul board sim: {line!r} {process.stderr.read()}")
    return process, line


@pytest.mark.sim
def test_virtual_board_trains_bit_exact():
    cfg = small_config()
    ds = datasets.load("digits", cfg)
    samples = int(os.environ.get("FEWMUL_VB_SAMPLES", "8"))
    process, port = _start("icebreaker")
    try:
        transport = SerialTransport(port, timeout=10)
        dev = Device(transport)
        info = dev.ping()
        assert info.word_bits == cfg.weight_bits
        assert info.depths == (64 * 8, 8, 8 * 10, 10)
        dev.reset()
        net = init_network(cfg, init_range=1.0)
        dev.load_network(cfg, [w.tolist() for w in net.weights], [b.tolist() for b in net.biases])
        dev.seed(seed_states(cfg.seed))
        streams = StreamSet(cfg.seed)
        step_cfg = cfg.replace(lr_shift=cfg.lr_shift + 1)   # a second epoch's rate (LR command)
        dev.set_lr(step_cfg.lr_shift)
        for k in range(samples):
            x, label = ds.x_train[k], int(ds.y_train[k])
            answer = dev.train([int(v) for v in x], label)
            y = train_step(net, x, label, streams, step_cfg)
            assert list(answer) == [int(np.argmax(y))], f"sample {k}: {list(answer)} vs {y}"
        weights, biases = dev.read_network(cfg)
        for layer in range(cfg.n_layers):
            np.testing.assert_array_equal(weights[layer], net.weights[layer])
            np.testing.assert_array_equal(biases[layer], net.biases[layer])
        steps = int.from_bytes(dev.counters()[:4], "little")
        assert steps == samples, f"COUNTERS steps {steps}, {samples} trained"
        status = dev.status()
        assert all(v == 0 for c, v in status.items() if c != Counter.OK), status
        transport.close()
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert re.search(r"stopped after \d+ cycles .* 0 framing errors", err), err


@pytest.mark.sim
def test_virtual_board_trains_keyed_epochs_from_its_data_set(tmp_path):
    # fewmul train --backend board --order keyed: DATA uploads the digits training set once,
    # each epoch is LR + one EPOCH; its answer and every weight are compared with golden in
    # the same order (the checks raise TrainingMismatch).
    from fewmul.train_board import BoardSettings
    from fewmul.training import TrainOptions, train
    cfg = small_config()
    process, port = _start("icebreaker")
    try:
        # the second epoch settles: LR's deterministic-sign flag before its EPOCH
        options = TrainOptions(epochs=2, lr_decay=1, samples=12, order="keyed",
                               init_range=1.0, settle_epochs=1)
        result = train(cfg, options, backend="board",
                       settings=BoardSettings(port=port, timeout=60, progress=False))
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
    assert result["bit_exact"] and result["samples"] == 24, result
    assert result["upload_seconds"] is not None and result["engine_cycles"] > 0
