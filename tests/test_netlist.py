"""The trainer's synthesized netlist on Yosys's cell models (``fewmul sim --netlist``).

The CI case synthesizes the smallest trainer for the iCEBreaker (Yosys + nextpnr through the
board build; it does not fit the UP5K yet, its synthesized netlist is simulated all the same),
compiles it with the iCE40 cell models into the virtual board's Verilator harness and trains
two digits samples through ``Device(SerialTransport)``, bit-exact with the golden model.
"""

import json

import pytest

from fewmul.cli import main
from fewmul.sim.netlist import blackbox_cells, cell_models


def test_cell_models_for_verilator_lose_only_the_z_tests():
    for family in ("ice40", "ecp5"):
        plain = dict(sum(cell_models(family, simulator="icarus"), ()))
        patched = dict(sum(cell_models(family), ()))
        assert plain.keys() == patched.keys()
        assert any("=== 1'bz" in text for text in plain.values())
        assert not any("=== 1'bz" in text for text in patched.values())
        for name, text in plain.items():        # every other line is the model's own
            changed = [a for a, b in zip(text.splitlines(), patched[name].splitlines(),
                                         strict=True) if a != b]
            assert all("1'bz" in line for line in changed), changed


def test_blackbox_cells_are_found():
    # Yosys 0.70 ships the ECP5 block RAM as a blackbox only: a netlist using it must be refused.
    netlist = "module top();\n  DP16KD #(\n    .DATA_WIDTH_A(32'd9)\n  ) ram (\n  );\n" \
              "  LUT4 #(\n    .INIT(16'h00f0)\n  ) lut (\n  );\nendmodule\n"
    models = sum(cell_models("ecp5"), ())
    assert blackbox_cells(netlist, models) == ["DP16KD"]
    assert blackbox_cells(netlist.replace("DP16KD", "PFUMX"), models) == []


@pytest.mark.parametrize("argv, message", [
    ([], "--board is required"),
    (["--board", "icebreaker", "--simulator", "icarus"], "the netlist runs on Verilator"),
    (["--board", "icebreaker", "--samples", "0"], "--samples must be at least 1, not 0"),
])
def test_bad_netlist_options_are_one_line(argv, message, capsys):
    assert main(["sim", "--netlist", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err


@pytest.mark.synth
@pytest.mark.sim
def test_icebreaker_netlist_trains_bit_exact(build_dir):
    argv = ["sim", "--netlist", "--board", "icebreaker", "--hidden", "2", "--rows", "1",
            "--cols", "1", "--samples", "2", "--divisor", "4", "--opt", "0",
            "--out", str(build_dir)]
    assert main(argv) == 0
    report = json.loads((build_dir / "netlist-sim.json").read_text())
    assert report["bit_exact"] and report["samples"] == 2 and not report["mismatches"]
    assert report["framing_errors"] == 0
    assert report["cells"].get("SB_RAM40_4K", 0) > 0        # the memories are block RAM cells
