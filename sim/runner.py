"""Run a cocotb testbench against an Amaranth component on Icarus Verilog or Verilator.

:func:`run_testbench` converts the component to Verilog, builds it with the cocotb 2.x runner
(``cocotb_tools.runner``) in its own build directory, runs the testbench module, and raises
:class:`SimulationFailed` unless every cocotb test passed. Parameters reach the testbench as JSON
in the ``FEWMUL_PARAMS`` environment variable (read them with :func:`testbench_params`).

Environment knobs: ``WAVES=1`` dumps waves (``<build_dir>/<top>.fst`` on Icarus,
``<build_dir>/dump.vcd`` on Verilator); ``FEWMUL_VOLUME`` scales random transaction counts.
"""

import contextlib
import hashlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from amaranth.back import verilog

from .tools import SIMULATORS, simulator_env

__all__ = ["SimulationFailed", "RunResult", "run_testbench", "testbench_params", "volume",
           "default_build_root"]

_PARAMS_VAR = "FEWMUL_PARAMS"


class SimulationFailed(AssertionError):
    """A cocotb run failed, or ran no test."""


@dataclass(frozen=True)
class RunResult:
    simulator: str
    tests: int
    failed: int
    build_dir: Path
    results_xml: Path


def default_build_root():
    return Path(os.environ.get("FEWMUL_BUILD", "build")).resolve()


def volume():
    """Multiplier for random transaction counts (``FEWMUL_VOLUME``, default 1)."""
    raw = os.environ.get("FEWMUL_VOLUME", "1")
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"FEWMUL_VOLUME must be a number, not {raw!r}") from None
    if value <= 0:
        raise ValueError(f"FEWMUL_VOLUME must be positive, not {raw!r}")
    return value


def testbench_params():
    """Inside a cocotb test: the ``params`` dict given to :func:`run_testbench`."""
    return json.loads(os.environ[_PARAMS_VAR])


@contextlib.contextmanager
def _environment(env):
    """The cocotb runner reads ``os.environ``; swap it in for the run and restore it after."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _verilator_args(build_dir, toplevel):
    """Verilator options: only the top level's ports are visible to VPI.

    cocotb's runner always passes ``--public-flat-rw``, which makes every signal of the design
    public and stops Verilator from optimising them away: the engine then simulates about 4x
    slower. The benches only touch the top level's ports, so a control file makes just those
    public (``--no-public-flat-rw`` takes back the global switch).
    """
    control = Path(build_dir) / "public.vlt"
    control.write_text(f'`verilator_config\npublic_flat_rw -module "{toplevel}" -var "*"\n')
    return ["-Wno-fatal", "-Wno-WIDTH", "--no-public-flat-rw", "-O3", str(control)]


def run_testbench(component, *, toplevel, test_module, simulator, build_dir, params=None,
                  seed=None, waves=None, testcase=None, extra_env=None, models=()):
    """Build ``component`` as ``toplevel`` and run the cocotb ``test_module`` on ``simulator``.
    ``models``: Verilog files of vendor primitives the component instantiates (behavioural
    stand-ins in ``sim/``, e.g. ``ecp5_mult18x18d.v``)."""
    from cocotb_tools.check_results import get_results
    from cocotb_tools.runner import get_runner

    if simulator not in SIMULATORS:
        raise ValueError(f"unknown simulator {simulator!r}; choose one of {SIMULATORS}")
    env = simulator_env(simulator)
    build_dir = Path(build_dir).resolve()
    build_dir.mkdir(parents=True, exist_ok=True)
    if waves is None:
        waves = os.environ.get("WAVES", "0") not in ("", "0")
    source = build_dir / f"{toplevel}.v"
    text = verilog.convert(component, name=toplevel, emit_src=False)
    results_xml = build_dir / "results.xml"
    results_xml.unlink(missing_ok=True)
    build_args = _verilator_args(build_dir, toplevel) if simulator == "verilator" else []
    test_env = {_PARAMS_VAR: json.dumps(params or {})}
    test_env.update(extra_env or {})
    # A build is reused when the same Verilog was built with the same options (an RTL training
    # run simulates each epoch separately); cocotb's Verilator runner itself always rebuilds.
    stamp = build_dir / "build.key"
    models = [Path(model).resolve() for model in models]
    key = hashlib.sha256(repr((text, [m.read_text() for m in models], simulator, build_args,
                               bool(waves),
                               env.get("MAKEFLAGS"), os.environ.get("MAKEFLAGS"))).encode())
    key = key.hexdigest()
    binary = build_dir / (toplevel if simulator == "verilator" else "sim.vvp")
    fresh = stamp.exists() and stamp.read_text() == key and binary.exists()
    if not fresh:
        stamp.unlink(missing_ok=True)
        source.write_text(text)
    runner = get_runner(simulator)
    if fresh:
        runner._build_command = list         # no commands: keep the built simulation
    with _environment(env):
        runner.build(sources=[source, *models], hdl_toplevel=toplevel, build_dir=build_dir,
                     always=not fresh, timescale=("1ns", "1ps"), build_args=build_args,
                     waves=waves)
        stamp.write_text(key)
        try:
            runner.test(test_module=test_module, hdl_toplevel=toplevel, build_dir=build_dir,
                        test_dir=build_dir, seed=seed, waves=waves, testcase=testcase,
                        extra_env=test_env, results_xml=str(results_xml))
        except SystemExit as exc:  # the runner exits under pytest; report it as a failure
            sys.stderr.flush()
            if not results_xml.exists():
                raise SimulationFailed(f"{simulator}: simulation of {toplevel} exited with "
                                       f"{exc.code} and wrote no results") from None
    if not results_xml.exists():
        raise SimulationFailed(f"{simulator}: {toplevel} wrote no results ({results_xml})")
    tests, failed = get_results(results_xml)
    if tests == 0:
        raise SimulationFailed(f"{simulator}: {test_module} ran no test on {toplevel}")
    if failed:
        raise SimulationFailed(f"{simulator}: {failed} of {tests} cocotb tests failed on "
                               f"{toplevel}; see {results_xml} and the log above")
    return RunResult(simulator, tests, failed, build_dir, results_xml)
