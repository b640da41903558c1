import os
from pathlib import Path

import pytest

from fewmul.sim.tools import SIMULATORS as _KNOWN


def _simulators():
    """Simulators to parametrize over: both, unless FEWMUL_SIMULATORS narrows them."""
    chosen = tuple(s for s in os.environ.get("FEWMUL_SIMULATORS", ",".join(_KNOWN)).split(",") if s)
    unknown = [s for s in chosen if s not in _KNOWN]
    if unknown or not chosen:
        raise ValueError(f"FEWMUL_SIMULATORS must name some of {_KNOWN}, not {chosen!r}")
    return chosen


SIMULATORS = _simulators()


@pytest.fixture
def build_dir(request):
    """A build directory of its own for each test case (kept for waves and logs)."""
    root = Path(os.environ.get("FEWMUL_BUILD", "build")).resolve() / "tests"
    name = request.node.name.replace("[", "-").replace("]", "").replace("/", "_")
    path = root / name
    path.mkdir(parents=True, exist_ok=True)
    return path


#: Make variables for quick Verilator builds (MAKEFLAGS variables override verilated.mk's): most
#: testbenches are bound by Python, not by the model, and -O0 compiles several times faster than
#: verilated.mk's -Os. (The PCH fix every large design needs is in ``simulator_env``.)
VERILATOR_MAKEFLAGS = ("OPT_FAST=-O0", "OPT_SLOW=-O0", "OPT_GLOBAL=-O0")


@pytest.fixture
def verilator_fast_build(monkeypatch):
    """Opt-in: Verilator builds that compile quickly (for benches bound by Python)."""
    flags = os.environ.get("MAKEFLAGS", "").split()
    extra = [f for f in VERILATOR_MAKEFLAGS if f.split("=")[0] not in
             {g.split("=")[0] for g in flags}]
    monkeypatch.setenv("MAKEFLAGS", " ".join(flags + extra))


def one_line_error(capsys, *needles):
    """The command's stderr is one line holding every needle (the CLI's error contract)."""
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    for needle in needles:
        assert needle in err, err
    return err
