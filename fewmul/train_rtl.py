"""The ``rtl`` backend of :func:`fewmul.training.train`: the simulated hardware, checked
against golden.

Each epoch is one cocotb simulation of :class:`fewmul.hw.engine.EngineSystem` (link + engine),
driven through the host driver's frames (``fewmul.sim.tb_engine``): the network and the stream
states of the previous epoch are LOADed and SEEDed, the epoch's samples are TRAINed, and the
golden model (``fewmul.golden.mlp.train_step``) runs alongside. Every weight and bias is read
back and compared after every ``check_every`` samples and at the end; a mismatch stops the run
with layer, index and both values (:class:`fewmul.training.TrainingMismatch`). Accuracy is then
the golden evaluation of the (identical) trained network.

The simulation runs in the cocotb runner's own process: this module writes the epoch's job
(network, stream states, samples) to ``<build_dir>/job.npz`` and its parameters to the
``FEWMUL_PARAMS`` environment variable of that process (``fewmul.sim.runner``); the testbench
writes ``<build_dir>/result.json`` back. Each epoch's learning rate is sent with the LR command
(``docs/engine.md``).
"""

import contextlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fewmul.training import TrainingMismatch

__all__ = ["RtlSettings", "RtlTrainer", "rtl_backend", "fast_build"]


@dataclass(frozen=True, kw_only=True)
class RtlSettings:
    """Settings of the rtl backend."""

    simulator: str = "verilator"
    check_every: int = 100        # compare every weight every N samples (0: end of epoch only)
    build_dir: str = None         # None: build/train-rtl/<simulator>
    quiet: bool = False           # cocotb logs warnings only

    def __post_init__(self):
        from fewmul.sim.tools import SIMULATORS
        if self.simulator not in SIMULATORS:
            raise ValueError(f"simulator must be one of {', '.join(SIMULATORS)}; "
                             f"not {self.simulator!r}")
        if (isinstance(self.check_every, bool) or not isinstance(self.check_every, int)
                or self.check_every < 0):
            raise ValueError(f"check_every must be an integer >= 0, not {self.check_every!r}")


class RtlTrainer:
    """A trainer of :data:`fewmul.training.BACKENDS` running the RTL in simulation."""

    def __init__(self, cfg, ds, options, settings):
        from fewmul.golden.mlp import init_network
        from fewmul.golden.rng import seed_states
        from fewmul.hw.engine_plan import EnginePlan
        if options.arith != "fixed" or options.float_weights:
            raise ValueError("the rtl backend trains the fixed-point datapath: use --arith fixed "
                             "and binary or ternary weights")
        EnginePlan(cfg)                                  # rejects what the engine cannot build
        self.cfg, self.ds, self.options, self.settings = cfg, ds, options, settings
        self.build_dir = Path(settings.build_dir or f"build/train-rtl/{settings.simulator}")
        self.build_dir = self.build_dir.resolve()
        self.net = init_network(cfg, init_range=options.init_range)
        self.states = list(seed_states(cfg.seed))
        self.stats = {"samples": 0, "cycles": 0, "engine_cycles": 0, "checks": 0,
                      "seconds": 0.0, "sim_seconds": 0.0, "mismatches": []}

    def train_epoch(self, order, lr_shift, deterministic=False):
        from fewmul.golden.mlp import Network
        from fewmul.hw.engine import EngineSystem
        from fewmul.sim.runner import SimulationFailed, run_testbench
        self.cfg.check_lr_shift(lr_shift)
        order = np.asarray(order)
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
                      settle_from=0 if deterministic else None,
                      check_every=self.settings.check_every, predict=4,
                      result_json=str(result_json))
        started = time.perf_counter()
        failure = None
        try:
            run_testbench(EngineSystem(self.cfg), toplevel="engine_system",
                          test_module="fewmul.sim.tb_engine", simulator=self.settings.simulator,
                          build_dir=self.build_dir, params=params, testcase="train_bit_exact",
                          extra_env={"COCOTB_LOG_LEVEL": "WARNING"} if self.settings.quiet
                          else None)
        except SimulationFailed as exc:
            failure = exc
        self.stats["seconds"] += time.perf_counter() - started
        if not result_json.exists():
            raise TrainingMismatch(f"the RTL run failed before reporting: {failure}",
                                   self.summary(bit_exact=False))
        report = json.loads(result_json.read_text())
        if report["mismatches"]:
            self.stats["mismatches"] += report["mismatches"]
            raise TrainingMismatch("RTL != golden:\n" + "\n".join(report["mismatches"][:20]),
                                   self.summary(bit_exact=False))
        if failure is not None:
            raise TrainingMismatch(f"the RTL run failed: {failure}",
                                   self.summary(bit_exact=False))
        self.net = Network([np.array(w, dtype=np.int64) for w in report["weights"]],
                           [np.array(b, dtype=np.int64) for b in report["biases"]])
        self.states = [int(s) for s in report["states"]]
        st = self.stats
        st["samples"] += report["samples"]
        st["cycles"] += report["train_cycles"]
        st["engine_cycles"] += report.get("engine_cycles", 0)
        st["checks"] += report["checks"]
        st["sim_seconds"] += report["seconds"]

    def predict(self, split, rule):
        from fewmul.golden.mlp import predict_fixed, predict_float
        x = self.ds.x_train if split == "train" else self.ds.x_test
        return (predict_float if rule == "paper" else predict_fixed)(self.net, x, self.cfg)

    def summary(self, bit_exact=True):
        """The run's figures (JSON fields of the result)."""
        st = self.stats
        return {"bit_exact": bit_exact, "simulator": self.settings.simulator,
                "samples": st["samples"], "checks": st["checks"],
                "mismatches": st["mismatches"], "cycles": st["cycles"],
                "engine_cycles": st["engine_cycles"],
                "cycles_per_sample": st["engine_cycles"] / st["samples"] if st["samples"]
                else None,
                "seconds": st["seconds"], "sim_seconds": st["sim_seconds"]}


def rtl_backend(cfg, ds, options, settings=None):
    """``(cfg, dataset, options, settings) -> RtlTrainer`` (settings: :class:`RtlSettings`)."""
    return RtlTrainer(cfg, ds, options, settings or RtlSettings())


@contextlib.contextmanager
def fast_build():
    """Verilator models built with ``-O0`` inside the block: a short run is bound by the C++
    compile, which ``-O0`` makes several times faster (the runner reads ``MAKEFLAGS``)."""
    saved = os.environ.get("MAKEFLAGS")
    os.environ["MAKEFLAGS"] = f"{saved or ''} OPT_FAST=-O0 OPT_SLOW=-O0 OPT_GLOBAL=-O0".strip()
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("MAKEFLAGS", None)
        else:
            os.environ["MAKEFLAGS"] = saved
