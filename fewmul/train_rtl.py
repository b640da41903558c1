"""``fewmul train --backend rtl``: training on the simulated hardware, checked against golden.

Each epoch is one cocotb simulation of :class:`fewmul.hw.engine.EngineSystem` (link + engine),
driven through the host driver's frames (``fewmul.sim.tb_engine``): the network and the stream
states of the previous epoch are LOADed and SEEDed, the epoch's samples are TRAINed, and the
golden model (``fewmul.golden.mlp.train_step``) runs alongside. Every weight and bias is read
back and compared after every ``--check-every`` samples and at the end; a mismatch stops the run
with layer, index and both values (exit status 1). Accuracy is then the golden evaluation of
the (identical) trained network.

Each epoch's learning rate is sent with the LR command (``docs/engine.md``); the hardware accepts
``Config.lr_shifts`` (``lr_shift .. lr_shift + lr_range``), so a schedule that leaves that range
is refused before anything runs.
"""

import json
import os
import time
from pathlib import Path

import numpy as np

__all__ = ["RtlTrainer", "RtlMismatch", "rtl_backend", "add_arguments", "run", "DEMO_STEPS"]

#: What ``add_arguments`` sets up, for :func:`rtl_backend` (the registry passes no args).
SETTINGS = {"simulator": "verilator", "check_every": 0, "samples": None, "build_dir": None,
            "quiet": False}


class RtlMismatch(AssertionError):
    """The RTL's weights differ from the golden model's (message: layer, index, values)."""


class RtlTrainer:
    """A trainer of the ``fewmul train`` backend registry running the RTL in simulation."""

    def __init__(self, cfg, ds, options, simulator="verilator", check_every=0, samples=None,
                 build_dir=None, quiet=False):
        from fewmul.golden.mlp import init_network
        from fewmul.golden.rng import seed_states
        from fewmul.hw.engine_plan import EnginePlan
        if options.arith != "fixed" or options.float_weights:
            raise ValueError("the rtl backend trains the fixed-point datapath: use --arith fixed "
                             "and binary or ternary weights")
        EnginePlan(cfg)                                  # rejects what the engine cannot build
        _check_schedule(cfg, [options.lr_shift(cfg, e) for e in range(options.epochs)])
        self.cfg, self.ds, self.options = cfg, ds, options
        self.simulator, self.check_every, self.samples = simulator, check_every, samples
        self.quiet = quiet
        self.build_dir = Path(build_dir or f"build/train-rtl/{simulator}").resolve()
        self.net = init_network(cfg, init_range=options.init_range)
        self.states = list(seed_states(cfg.seed))
        self.stats = {"samples": 0, "cycles": 0, "engine_cycles": 0, "checks": 0,
                      "seconds": 0.0, "sim_seconds": 0.0, "mismatches": [], "epochs": 0}

    def train_epoch(self, order, lr_shift):
        from fewmul.golden.mlp import Network
        from fewmul.hw.engine import EngineSystem
        from fewmul.sim.runner import SimulationFailed, run_testbench
        _check_schedule(self.cfg, [lr_shift])
        order = np.asarray(order)
        if self.samples is not None:
            order = order[:self.samples]
        self.build_dir.mkdir(parents=True, exist_ok=True)
        job = self.build_dir / "job.npz"
        result_json = self.build_dir / "result.json"
        result_json.unlink(missing_ok=True)
        arrays = {f"w{k}": w for k, w in enumerate(self.net.weights)}
        arrays.update({f"b{k}": b for k, b in enumerate(self.net.biases)})
        np.savez(job, x_train=self.ds.x_train[order], y_train=self.ds.y_train[order],
                 x_test=self.ds.x_test[:4], y_test=self.ds.y_test[:4],
                 states=np.array(self.states, dtype=np.uint64), **arrays)
        params = dict(cfg=self.cfg.as_dict(), job=str(job), samples=len(order), lr_shift=lr_shift,
                      check_every=self.check_every, predict=4, result_json=str(result_json))
        started = time.perf_counter()
        failure = None
        try:
            run_testbench(EngineSystem(self.cfg), toplevel="engine_system",
                          test_module="fewmul.sim.tb_engine", simulator=self.simulator,
                          build_dir=self.build_dir, params=params, testcase="train_bit_exact",
                          extra_env={"COCOTB_LOG_LEVEL": "WARNING"} if self.quiet else None)
        except SimulationFailed as exc:
            failure = exc
        self.stats["seconds"] += time.perf_counter() - started
        if not result_json.exists():
            raise RtlMismatch(f"the RTL run failed before reporting: {failure}")
        report = json.loads(result_json.read_text())
        if report["mismatches"]:
            self.stats["mismatches"] += report["mismatches"]
            raise RtlMismatch("RTL != golden:\n" + "\n".join(report["mismatches"][:20]))
        if failure is not None:
            raise RtlMismatch(f"the RTL run failed: {failure}")
        self.net = Network([np.array(w, dtype=np.int64) for w in report["weights"]],
                           [np.array(b, dtype=np.int64) for b in report["biases"]])
        self.states = [int(s) for s in report["states"]]
        st = self.stats
        st["samples"] += report["samples"]
        st["cycles"] += report["train_cycles"]
        st["engine_cycles"] += report.get("engine_cycles", 0)
        st["checks"] += report["checks"]
        st["sim_seconds"] += report["seconds"]
        st["epochs"] += 1

    def predict(self, split, rule):
        from fewmul.golden.mlp import predict_fixed, predict_float
        x = self.ds.x_train if split == "train" else self.ds.x_test
        return (predict_float if rule == "paper" else predict_fixed)(self.net, x, self.cfg)


def _check_schedule(cfg, shifts):
    """Every learning-rate shift of the run must be one the hardware accepts (the LR command)."""
    for lr_shift in shifts:
        try:
            cfg.check_lr_shift(lr_shift)
        except ValueError as exc:
            raise ValueError(f"the learning-rate schedule leaves what the engine is built for: "
                             f"{exc}; use fewer --epochs or a larger --lr-decay") from None


#: The last trainer built (``run`` reports its statistics).
_LAST = []


def rtl_backend(cfg, ds, options):
    trainer = RtlTrainer(cfg, ds, options, **SETTINGS)
    _LAST[:] = [trainer]
    return trainer


def add_arguments(p):
    """The rtl backend's options of ``fewmul train``."""
    p.add_argument("--simulator", choices=("icarus", "verilator"), default="verilator",
                   help="rtl backend: HDL simulator (default: %(default)s)")
    p.add_argument("--check-every", type=int, default=100, metavar="N",
                   help="rtl backend: compare every weight with golden every N samples "
                        "(0: at the end only; default: %(default)s)")
    p.add_argument("--samples", type=int, default=None, metavar="N",
                   help="rtl backend: train only the first N samples of each epoch")


def run(args):
    """``fewmul train --backend rtl`` (``fewmul.commands.train.run`` hands over here)."""
    from fewmul.commands.train import TrainOptions, _config, train
    from fewmul.results import write_json
    try:
        cfg = _config(args)
    except ValueError as exc:
        print(f"fewmul train: {exc}")
        return 2
    SETTINGS.update(simulator=args.simulator, check_every=args.check_every,
                    samples=args.samples, quiet=args.quiet)
    options = TrainOptions(dataset=args.dataset, epochs=args.epochs, arith=args.arith,
                           float_weights=args.weights == "float", init_range=args.init_range,
                           lr_decay=args.lr_decay)
    try:
        result = train(cfg, options, backend="rtl", progress=False)
    except (RtlMismatch, ValueError) as exc:
        print(f"fewmul train --backend rtl: {exc}")
        if args.json and _LAST:
            write_json(args.json, {"bit_exact": False, **_summary(_LAST[0])})
        return 1
    result.update(bit_exact=True, **_summary(_LAST[0]))
    c = result["config"]
    print(f"{c['dataset']} {'-'.join(map(str, c['layers']))} on RTL ({args.simulator}): "
          f"{result['samples']} samples bit-exact with golden ({result['checks']} full checks), "
          f"{result['cycles_per_sample']:.0f} cycles/sample, {result['seconds']:.1f} s; "
          f"test accuracy {100 * result['test_accuracy']:.2f} % (multiplier-free "
          f"{100 * result['test_accuracy_multiplier_free']:.2f} %)")
    if args.json:
        print(f"wrote {write_json(args.json, result)}")
    return 0


def _summary(trainer):
    st = trainer.stats
    return {"simulator": trainer.simulator, "samples": st["samples"], "checks": st["checks"],
            "mismatches": st["mismatches"], "cycles": st["cycles"],
            "engine_cycles": st["engine_cycles"],
            "cycles_per_sample": st["engine_cycles"] / st["samples"] if st["samples"] else None,
            "seconds": st["seconds"], "sim_seconds": st["sim_seconds"]}


def _demo(out):
    """A short bit-exact RTL run: 40 digits samples on a 64-16-10 MLP, 4x4 array, Verilator."""
    from fewmul.commands.train import TrainOptions, train
    from fewmul.config import Config
    SETTINGS.update(simulator="verilator", check_every=20, samples=40, quiet=True,
                    build_dir=str(Path(out) / "train-rtl"))
    saved = os.environ.get("MAKEFLAGS")
    # a short run is bound by the C++ compile: -O0 compiles several times faster than -Os
    os.environ["MAKEFLAGS"] = f"{saved or ''} OPT_FAST=-O0 OPT_SLOW=-O0 OPT_GLOBAL=-O0".strip()
    try:
        cfg = Config(layers=(64, 16, 10), array_rows=4, array_cols=4)
        result = train(cfg, TrainOptions(dataset="digits", epochs=1), backend="rtl")
    finally:
        SETTINGS.update(build_dir=None, samples=None)
        if saved is None:
            os.environ.pop("MAKEFLAGS", None)
        else:
            os.environ["MAKEFLAGS"] = saved
    st = _LAST[0].stats
    return (f"RTL (Verilator) == golden on {st['samples']} digits samples, "
            f"{st['engine_cycles'] / st['samples']:.0f} cycles/sample, test accuracy after "
            f"them {100 * result['test_accuracy']:.1f} %, {st['seconds']:.0f} s")


DEMO_STEPS = [("train digits (RTL, Verilator)", _demo)]
