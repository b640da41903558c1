"""cocotb testbench: ``fewmul.hw.engine.EngineSystem`` (link + engine) against the golden MLP.

Everything goes through frames built by the host driver (``fewmul.host.AsyncDevice``) over
``fewmul.sim.stream_transport.CocotbStreamTransport`` (bytes straight into the link's stream
ports; Python sleeps while the engine computes). The scenario:

1. PING, RESET, LOAD the network of ``fewmul.golden.mlp.init_network`` and read it back;
2. SEED with ``fewmul.golden.rng.seed_states(cfg.seed)``;
3. TRAIN ``samples`` samples; after each, the engine's answer (argmax of the step's scores) is
   compared with golden ``train_step``; every ``check_every`` samples and at the end every
   weight and bias is read back and compared (a mismatch names layer, index and both values);
4. PREDICT a few samples (deterministic signs) against ``predict_fixed``; COUNTERS, whose
   per-layer saturation events must equal golden ``train_step``'s ``clips``.

Parameters (``FEWMUL_PARAMS``): ``cfg``, ``samples``, ``check_every``, ``data`` (``random`` or a
data set name of ``fewmul.golden.data``), ``seed``; ``result_json`` (optional) receives cycles,
mismatches and accuracy for ``fewmul train --backend rtl``.
"""

import json
import time

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge

from fewmul.config import Config
from fewmul.golden.mlp import (
    Network,
    forward_fixed,
    init_network,
    predict_fixed,
    train_step,
)
from fewmul.golden.rng import StreamSet, seed_states
from fewmul.host import AsyncDevice
from fewmul.hw.engine import counter_names
from fewmul.protocol import LR_DETERMINISTIC, ErrorCode, LinkError, Opcode, encode_frame
from fewmul.sim.runner import testbench_params
from fewmul.sim.stream_transport import CocotbStreamTransport
from fewmul.training import compare_network

__all__ = ["EngineHarness"]


def kick_combinational(handle):
    """Icarus only: evaluate every ``always @*`` block once after time 0.

    Yosys gives each module a dummy register ``...dump_module$1`` that every ``always @*``
    block reads; Icarus initialises it before the blocks wait for events, so a block whose
    inputs never change (a table indexed by a register that stays at its reset value) would
    keep its outputs at X. Writing the register once wakes them all. Returns the count.
    """
    from cocotb.handle import HierarchyObject
    count = 0
    for child in handle:
        name = child._name
        if "dump_module" in name:
            child.value = 1
            count += 1
        elif isinstance(child, HierarchyObject):
            count += kick_combinational(child)
    return count


class EngineHarness:
    """Clock, reset and the host driver of one ``EngineSystem``."""

    def __init__(self, dut):
        self.dut = dut
        self.transport = CocotbStreamTransport(dut)
        self.device = AsyncDevice(self.transport)

    async def start(self):
        dut = self.dut
        dut.i__valid.value = 0
        dut.i__payload.value = 0
        dut.o__ready.value = 1
        cocotb.start_soon(Clock(dut.clk, 10, unit="ns", impl="gpi").start())
        dut.rst.value = 1
        await ClockCycles(dut.clk, 3)
        if cocotb.SIM_NAME.lower().startswith("icarus"):
            kicked = kick_combinational(dut)
            dut._log.info("kicked the always @* blocks of %d modules", kicked)
        await ClockCycles(dut.clk, 2)
        dut.rst.value = 0
        for _ in range(32):                    # the link may clear its counters after reset
            await FallingEdge(dut.clk)

    async def counters(self):
        raw = await self.device.counters()
        return [int.from_bytes(raw[k:k + 4], "little") for k in range(0, len(raw), 4)]


def samples_for(params, cfg):
    """``(x_train, y_train, x_test, y_test)`` encoded for ``cfg``."""
    if params.get("job"):
        job = np.load(params["job"])
        return job["x_train"], job["y_train"], job["x_test"], job["y_test"]
    name = params.get("data", "random")
    if name == "random":
        rng = np.random.default_rng(params.get("seed", 1))
        n = params["samples"]
        x = rng.integers(0, 1 << cfg.act_frac, (n, cfg.layers[0]))
        y = rng.integers(0, cfg.layers[-1], n)
        return x, y, x[:16], y[:16]
    from fewmul.golden import data as datasets
    ds = datasets.load(name, cfg)
    order = np.random.default_rng(cfg.seed).permutation(len(ds.y_train))
    return ds.x_train[order], ds.y_train[order], ds.x_test, ds.y_test


@cocotb.test()
async def train_bit_exact(dut):
    params = testbench_params()
    cfg = Config.from_dict(params["cfg"])
    samples, check_every = params["samples"], params.get("check_every", 0)
    x_train, y_train, x_test, y_test = samples_for(params, cfg)
    samples = min(samples, len(y_train))
    h = EngineHarness(dut)
    await h.start()
    dev = h.device
    started = time.perf_counter()

    info = await dev.ping()
    dut._log.info("PING: %s", info)
    await dev.reset()
    dut._log.info("RESET ok")
    net = init_network(cfg, init_range=params.get("init_range", 0.5))
    states = seed_states(cfg.seed)
    if params.get("job"):                   # continue a run: its network and stream states
        job = np.load(params["job"])
        net = Network([job[f"w{k}"] for k in range(cfg.n_layers)],
                      [job[f"b{k}"] for k in range(cfg.n_layers)])
        states = [int(v) for v in job["states"]]
    await dev.load_network(cfg, [w.tolist() for w in net.weights],
                           [b.tolist() for b in net.biases])
    mismatches = compare_network(cfg, *(await dev.read_network(cfg)), net, "after LOAD")
    assert not mismatches, "\n".join(mismatches[:20])
    dut._log.info("LOAD + READ ok")
    streams = StreamSet(cfg.seed)
    for stream, state in zip(streams.streams, states, strict=True):
        stream.state = state
    await dev.seed(states)
    for bad, code in [(bytes([cfg.lr_shift + cfg.lr_range + 1]), ErrorCode.BAD_ARG),
                      (bytes([cfg.lr_shift - 1]) if cfg.lr_shift else b"\xff", ErrorCode.BAD_ARG),
                      (bytes([LR_DETERMINISTIC | (cfg.lr_shift + cfg.lr_range + 1)]),
                       ErrorCode.BAD_ARG),
                      (bytes([cfg.lr_shift] * 2), ErrorCode.BAD_LENGTH)]:
        await _expect_error(h.transport, Opcode.LR, bad, code)
    step_cfg = cfg
    if params.get("lr_shift") is not None:       # this run's learning rate (the LR command)
        step_cfg = cfg.replace(lr_shift=params["lr_shift"])
        await dev.set_lr(params["lr_shift"])

    train_cycles = 0
    clips = [0] * cfg.n_layers                  # golden saturation events per layer
    answers_wrong = 0
    correct = 0
    checks = 0
    step = -1
    settle_from = params.get("settle_from")      # the settling phase: deterministic signs
    for step in range(samples):
        x, label = x_train[step], int(y_train[step])
        if step == settle_from:
            await dev.set_lr(step_cfg.lr_shift, deterministic=True)
            step_cfg = step_cfg.replace(sampling="deterministic")
        before = h.transport.cycles
        answer = await dev.train([int(v) for v in x], label)
        train_cycles += h.transport.cycles - before
        y = train_step(net, x, label, streams, step_cfg, clips)
        want = int(np.argmax(y))
        correct += want == label
        if len(answer) != 1 or answer[0] != want:
            answers_wrong += 1
            mismatches.append(f"sample {step}: answer {list(answer)}, golden argmax {want}")
        last = step == samples - 1
        if (check_every and (step + 1) % check_every == 0) or last:
            checks += 1
            mismatches += compare_network(cfg, *(await dev.read_network(cfg)), net,
                                          f"after sample {step + 1}")
            if mismatches:
                break
    seconds = time.perf_counter() - started

    def report(**extra):
        if params.get("result_json"):
            with open(params["result_json"], "w") as f:
                json.dump({"samples": step + 1, "checks": checks,
                           "mismatches": mismatches[:100], "train_cycles": train_cycles,
                           "link_cycles_per_sample": train_cycles / max(samples, 1),
                           "seconds": seconds, "correct": int(correct),
                           "states": [s.state for s in streams.streams],
                           "weights": [w.tolist() for w in net.weights],
                           "biases": [b.tolist() for b in net.biases], **extra}, f)

    if mismatches:
        report()
    assert not mismatches, (f"{len(mismatches)} mismatches; first:\n"
                            + "\n".join(mismatches[:20]))

    n_predict = min(len(y_test), params.get("predict", 8))
    want = predict_fixed(net, x_test[:n_predict], cfg)
    want_scores = forward_fixed(net, x_test[:n_predict], cfg)
    for k in range(n_predict):
        answer = await dev.predict([int(v) for v in x_test[k]])
        scores = [int.from_bytes(answer[b:b + 2], "little", signed=True)
                  for b in range(1, len(answer), 2)]
        assert answer[0] == want[k] and scores == want_scores[k].tolist(), (
            f"PREDICT {k}: rtl class {answer[0]}, scores {scores}; golden class {want[k]}, "
            f"scores {want_scores[k].tolist()}")

    counters = await h.counters()
    assert len(counters) == len(counter_names(cfg)), f"counters {counters}"
    assert counters[0] == samples and counters[1] == n_predict, f"counters {counters}"
    assert counters[3:] == clips, f"clips per layer: rtl {counters[3:]}, golden {clips}"
    per_sample = counters[2] / samples if samples else 0
    dut._log.info("%d samples bit-exact (%d full checks); engine %.0f cycles/sample, "
                  "%.0f cycles/sample with the link; %.1f s", samples, checks, per_sample,
                  train_cycles / max(samples, 1), seconds)
    report(engine_cycles_per_sample=per_sample, engine_cycles=counters[2], clips=clips)


async def _expect_error(transport, opcode, payload, code):
    """Send a raw frame; it must be answered with error ``code``."""
    frame = await transport.exchange(encode_frame(opcode, payload))
    try:
        frame.raise_for_error(opcode)
    except LinkError as error:
        assert error.code == code and error.opcode == opcode, (
            f"{Opcode(opcode).name} {payload.hex()}: {error}, expected {code.name}")
        return
    raise AssertionError(f"{Opcode(opcode).name} {payload.hex()} accepted, expected {code.name}")


def _records(x, y, labels=None):
    labels = y if labels is None else labels
    return b"".join(bytes([int(label)]) + bytes(int(v) & 0xFF for v in row)
                    for row, label in zip(x, labels, strict=True))


@cocotb.test()
async def epoch_bit_exact(dut):
    """The data set on chip: DATA uploads (and bad ones that change nothing), EPOCH commands
    in the keyed order of ``fewmul.golden.order`` against golden ``train_step`` in the same
    order: every EPOCH's ``correct`` and per-layer ``clips``, every weight afterwards, a TRAIN
    from the link in between, COUNTERS at the end."""
    import struct

    params = testbench_params()
    cfg = Config.from_dict(params["cfg"])
    capacity, n = params["data_capacity"], params["samples"]
    x_train, y_train, _, _ = samples_for(params, cfg)
    x_train, y_train = x_train[:n], y_train[:n]
    classes = cfg.layers[-1]
    h = EngineHarness(dut)
    await h.start()
    dev, link = h.device, h.transport
    await dev.ping()
    await dev.reset()
    net = init_network(cfg, init_range=params.get("init_range", 0.5))
    await dev.load_network(cfg, [w.tolist() for w in net.weights],
                           [b.tolist() for b in net.biases])
    streams = StreamSet(cfg.seed)
    await dev.seed(seed_states(cfg.seed))

    def data_payload(address, x, y, labels=None):
        return struct.pack("<HH", address, len(y)) + _records(x, y, labels)

    epoch_args = struct.pack("<HHI", 1, 1, 5)
    await _expect_error(link, Opcode.EPOCH, epoch_args, ErrorCode.BAD_STATE)   # no data yet
    bad_labels = y_train[:3].copy()
    bad_labels[2] = classes
    for payload, code in [
            (data_payload(0, x_train[:3], y_train[:3], bad_labels), ErrorCode.BAD_ARG),
            (data_payload(1, x_train[:2], y_train[:2]), ErrorCode.BAD_ADDRESS),     # a gap
            (data_payload(0, x_train[:1], y_train[:1])[:-1], ErrorCode.BAD_LENGTH),
            (data_payload(0, x_train[:1], y_train[:1]) + b"\0", ErrorCode.BAD_LENGTH),
            (struct.pack("<HH", 0, 0), ErrorCode.BAD_LENGTH),
            (b"\0\0\1", ErrorCode.BAD_LENGTH)]:
        await _expect_error(link, Opcode.DATA, payload, code)
    await _expect_error(link, Opcode.EPOCH, epoch_args, ErrorCode.BAD_STATE)   # still none

    await dev.data(0, [row.tolist() for row in x_train], y_train.tolist())
    # past the capacity, and a bad label over loaded samples: refused, the data set intact
    await _expect_error(link, Opcode.DATA, data_payload(capacity, x_train[:1], y_train[:1]),
                        ErrorCode.BAD_ADDRESS)
    await _expect_error(link, Opcode.DATA, data_payload(0, x_train[:3], y_train[:3],
                                                        bad_labels), ErrorCode.BAD_ARG)
    for size, count, code in [(n, n + 1, ErrorCode.BAD_ARG), (n + 1, 1, ErrorCode.BAD_ARG),
                              (0, 0, ErrorCode.BAD_ARG), (n, 0, ErrorCode.BAD_ARG)]:
        await _expect_error(link, Opcode.EPOCH, struct.pack("<HHI", size, count, 1), code)
    await _expect_error(link, Opcode.EPOCH, struct.pack("<HHI", n, n, 1)[:7],
                        ErrorCode.BAD_LENGTH)

    mismatches, clips_total, epochs, state = [], [0] * cfg.n_layers, [], {}
    try:
        await _epoch_runs(dut, dev, h, cfg, net, streams, x_train, y_train, n, mismatches,
                          clips_total, epochs, state)
    finally:
        # written on failure too, so that a benchmark reports what differed and the cycles
        if params.get("result_json"):
            with open(params["result_json"], "w") as f:
                json.dump({"samples": n, "steps": state.get("steps"),
                           "mismatches": mismatches, "clips": clips_total,
                           "engine_cycles": state.get("engine_cycles"), "epochs": epochs}, f)


async def _epoch_runs(dut, dev, h, cfg, net, streams, x_train, y_train, n, mismatches,
                      clips_total, epochs, state):
    """Two EPOCHs and a TRAIN after each, golden alongside (see :func:`epoch_bit_exact`)."""
    from fewmul.golden.order import epoch_key, epoch_order
    steps = 0
    # the second EPOCH: another learning rate, and the settling phase's deterministic signs
    runs = [(n, max(1, n - 3), 0, None), (max(1, n // 2), max(1, n // 2), 1, cfg.lr_shift + 1)]
    for size, count, epoch, lr_shift in runs:
        step_cfg = cfg
        if lr_shift is not None and lr_shift in cfg.lr_shifts:
            await dev.set_lr(lr_shift, deterministic=True)
            step_cfg = cfg.replace(lr_shift=lr_shift, sampling="deterministic")
        key = epoch_key(cfg.seed, epoch)
        answer = await dev.epoch(size, count, key)
        clips, correct = [0] * cfg.n_layers, 0
        for index in epoch_order(size, key)[:count]:
            y = train_step(net, x_train[index], int(y_train[index]), streams, step_cfg, clips)
            correct += int(np.argmax(y)) == int(y_train[index])
        steps += count
        state["steps"] = steps
        epochs.append({"size": size, "count": count, "key": key, "cycles": answer["cycles"],
                       "correct": correct})
        clips_total[:] = [a + b for a, b in zip(clips_total, clips, strict=True)]
        if answer["correct"] != correct or answer["clips"] != clips:
            mismatches.append(f"EPOCH {epoch}: rtl {answer}, golden correct {correct}, "
                              f"clips {clips}")
        mismatches += compare_network(cfg, *(await dev.read_network(cfg)), net,
                                      f"after EPOCH {epoch}")
        dut._log.info("EPOCH %d: %d samples, %d cycles (%.0f a sample)", epoch, count,
                      answer["cycles"], answer["cycles"] / count)
        assert not mismatches, "\n".join(mismatches[:20])
        # a TRAIN from the link between epochs: its sample goes through the spare slot
        x, label = x_train[0], int(y_train[0])
        got = await dev.train([int(v) for v in x], label)
        want = int(np.argmax(train_step(net, x, label, streams, step_cfg, clips_total)))
        steps += 1
        state["steps"] = steps
        assert list(got) == [want], f"TRAIN after EPOCH {epoch}: rtl {list(got)}, golden {want}"

    counters = await h.counters()
    state["engine_cycles"] = counters[2]
    assert counters[0] == steps, f"counters {counters}, {steps} steps"
    assert counters[3:] == clips_total, f"clips: rtl {counters[3:]}, golden {clips_total}"
    mismatches += compare_network(cfg, *(await dev.read_network(cfg)), net, "at the end")
    assert not mismatches, "\n".join(mismatches[:20])
