"""The trainer's synthesized netlist on Yosys's cell models (``fewmul sim --netlist``).

The CI case synthesizes the smallest trainer for the iCEBreaker (Yosys + nextpnr through the
board build; it does not fit the UP5K yet, its synthesized netlist is simulated all the same),
compiles it with the iCE40 cell models into the virtual board's Verilator harness and trains
two digits samples through ``Device(SerialTransport)``, bit-exact with the golden model.
"""

import json
import re

import pytest

from fewmul.cli import main
from fewmul.sim.netlist import (
    NetlistError,
    blackbox_cells,
    cell_models,
    connect_pad_global,
    tie_pull_ups,
)


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
    # The iCE40 PLL is a blackbox in Yosys's models: a netlist using it must be refused. The
    # ECP5 block RAM is one too in Yosys 0.70; ours (sim/ecp5_dp16kd.vh) gives it behaviour.
    netlist = "module top();\n  SB_PLL40_PAD #(\n    .DIVR(4'h0)\n  ) pll (\n  );\n" \
              "  SB_LUT4 #(\n    .LUT_INIT(16'h00f0)\n  ) lut (\n  );\nendmodule\n"
    assert blackbox_cells(netlist, sum(cell_models("ice40"), ())) == ["SB_PLL40_PAD"]
    assert blackbox_cells(netlist.replace("SB_PLL40_PAD", "SB_CARRY"),
                          sum(cell_models("ice40"), ())) == []
    ecp5 = netlist.replace("SB_PLL40_PAD", "DP16KD").replace("SB_LUT4", "LUT4")
    assert blackbox_cells(ecp5, sum(cell_models("ecp5"), ())) == []
    share = dict(sum(cell_models("ecp5", simulator="icarus"), ()))
    assert "(* blackbox *)\nmodule DP16KD(" not in share["ecp5_cells_sim.v"]


def test_routed_clock_pad_is_wired_to_its_global_buffer():
    # nextpnr's routed iCE40 JSON drops the pad -> SB_GB wire of the clock pin.
    routed = ("  SB_GB _104_ (\n    .GLOBAL_BUFFER_OUTPUT(clk)\n  );\n"
              "  SB_IO #(\n    .PIN_TYPE(6'h01)\n  ) pad (\n    .CLOCK_ENABLE(_001_),\n"
              "    .PACKAGE_PIN(clk12_0__io)\n  );\n"
              "  SB_IO #(\n    .PIN_TYPE(6'h00)\n  ) rx (\n    .D_IN_0(i),\n"
              "    .PACKAGE_PIN(uart_0__rx__io)\n  );\n")
    wired = connect_pad_global(routed)
    assert ".GLOBAL_BUFFER_OUTPUT(clk),\n    .USER_SIGNAL_TO_GLOBAL_BUFFER(clk12_0__io)" in wired
    assert wired.count("SB_GB") == 1 and connect_pad_global(wired) == wired
    with pytest.raises(NetlistError, match="cannot tell which pad feeds which global buffer"):
        connect_pad_global(routed + routed.split("  SB_IO")[0].replace("_104_", "_105_"))


def test_routed_pull_ups_are_tied():
    # nextpnr leaves an always-enabled LC's CEN open; the model pulls it up, Verilator cannot.
    routed = ("  ICESTORM_LC #(\n    .DFF_ENABLE(1'h1)\n  ) \\a.b  (\n    .CLK(clk),\n"
              "    .O(q)\n  );\n  ICESTORM_LC #(\n    .DFF_ENABLE(1'h1)\n  ) _2_ (\n"
              "    .CEN(en),\n    .O(r)\n  );\n")
    tied = tie_pull_ups(routed)
    assert tied.count(".CEN(") == 2 and ") \\a.b  (\n    .CEN(1'h1),\n    .CLK(clk)," in tied
    assert ".CEN(en)" in tied and tie_pull_ups(tied) == tied


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


# -- the ECP5 block RAM model, against the memory guide's behaviour ---------------------------

def _dp16kd_case(width_a, width_b, mode, ops):
    """A Verilog bench: DP16KD with the widths and write mode, one line of ``DOA DOB`` (hex)
    after each clock of ``ops`` = [(port A: (we, addr, data), port B: (we, addr, data))]."""
    lines = ["`timescale 1ns/1ps", "module tb;", "  reg clk = 0;", "  reg [13:0] ada, adb;",
             "  reg [17:0] dia, dib;", "  reg wea, web;", "  wire [17:0] doa, dob;",
             f"  DP16KD #(.DATA_WIDTH_A({width_a}), .DATA_WIDTH_B({width_b}), "
             f'.WRITEMODE_A("{mode}"), .WRITEMODE_B("{mode}"), .RESETMODE("ASYNC")) ram (',
             "    .CLKA(clk), .CLKB(clk), .CEA(1'b1), .CEB(1'b1), .OCEA(1'b1), .OCEB(1'b1),",
             "    .RSTA(1'b0), .RSTB(1'b0), .WEA(wea), .WEB(web),",
             "    .CSA0(1'b0), .CSA1(1'b0), .CSA2(1'b0), .CSB0(1'b0), .CSB1(1'b0), .CSB2(1'b0),"]
    for port, sig in (("A", "ada"), ("B", "adb")):
        lines.append("    " + ", ".join(f".AD{port}{k}({sig}[{k}])" for k in range(14)) + ",")
    for port, sig in (("A", "dia"), ("B", "dib")):
        lines.append("    " + ", ".join(f".DI{port}{k}({sig}[{k}])" for k in range(18)) + ",")
    lines.append("    " + ", ".join(f".DOA{k}(doa[{k}])" for k in range(18)) + ",")
    lines.append("    " + ", ".join(f".DOB{k}(dob[{k}])" for k in range(18)) + ");")
    lines.append("  initial begin")
    for (we_a, ad_a, di_a), (we_b, ad_b, di_b) in ops:
        lines.append(f"    wea = {we_a}; ada = {ad_a}; dia = {di_a}; web = {we_b}; adb = {ad_b};"
                     f" dib = {di_b}; #5 clk = 1; #5 clk = 0; $display(\"%h %h\", doa, dob);")
    lines += ["    $finish;", "  end", "endmodule", ""]
    return "\n".join(lines)


def _run_dp16kd(tmp_path, bench):
    import shutil
    import subprocess
    if shutil.which("iverilog") is None:
        raise RuntimeError("iverilog not found: sudo apt-get install -y iverilog")
    # the DP16KD module alone (Icarus 11 rejects the $error in the other ECP5 models)
    (cells,), _ = cell_models("ecp5", simulator="icarus")
    model = re.search(r"^module DP16KD\(.*?^endmodule", cells[1], re.S | re.M).group(0)
    (tmp_path / "dp16kd.v").write_text(model)
    (tmp_path / "tb.v").write_text(bench)
    subprocess.run(["iverilog", "-g2012", "-o", "tb.vvp", "-s", "tb", "tb.v", "dp16kd.v"],
                   cwd=tmp_path, check=True, capture_output=True)
    out = subprocess.run(["vvp", "-n", "tb.vvp"], cwd=tmp_path, check=True,
                         capture_output=True, text=True).stdout
    return [tuple(int(v, 16) for v in line.split()) for line in out.splitlines()
            if len(line.split()) == 2]


def test_dp16kd_pseudo_dual_port_x36(tmp_path):
    # TN1264 PDP x36: A writes {DIB, DIA} at ADA[13:5], bytes enabled by ADA[3:0]; B reads
    # {DOB, DOA} at ADB[13:5] one clock later (NOREG).
    rng = __import__("random").Random(5)
    memory, ops, want = {}, [], []
    for _ in range(60):
        address, enables = rng.randrange(8), rng.randrange(16)
        data = rng.getrandbits(36)
        read = rng.randrange(8)
        old = memory.get(read, 0)                      # read before this clock's write lands
        ops.append(((1, address << 5 | enables, data & 0x3FFFF),
                    (0, read << 5, data >> 18)))       # port B's DI carries the high half
        want.append((old & 0x3FFFF, old >> 18))
        word = memory.get(address, 0)
        for k in range(4):
            if enables >> k & 1:
                word = word & ~(0x1FF << 9 * k) | (data >> 9 * k & 0x1FF) << 9 * k
        memory[address] = word
    assert _run_dp16kd(tmp_path, _dp16kd_case(36, 36, "NORMAL", ops)) == want


@pytest.mark.parametrize("mode", ["NORMAL", "WRITETHROUGH", "READBEFOREWRITE"])
def test_dp16kd_true_dual_port_x9_and_x18(tmp_path, mode):
    # x9 on A (address ADA[13:3]), x18 on B (ADB[13:4], byte enables ADB[1:0]) over the same
    # bytes; a port's output on its own write: kept (NORMAL), new word, or old word.
    rng = __import__("random").Random(7)
    memory, ops, want = [0] * 16, [], []
    out_a = out_b = 0
    for _ in range(80):
        we_a, ad_a, di_a = rng.randrange(2), rng.randrange(16), rng.getrandbits(9)
        we_b, ad_b, en_b, di_b = rng.randrange(2), rng.randrange(8), rng.randrange(4), \
            rng.getrandbits(18)
        if we_a and we_b and ad_a // 2 == ad_b:
            we_b = 0                                    # same-address writes: undefined
        old_a, old_b = memory[ad_a], memory[2 * ad_b] | memory[2 * ad_b + 1] << 9
        new_b = old_b
        for k in range(2):
            if en_b >> k & 1:
                new_b = new_b & ~(0x1FF << 9 * k) | (di_b >> 9 * k & 0x1FF) << 9 * k
        for we, old, new, port in ((we_a, old_a, di_a, "a"), (we_b, old_b, new_b, "b")):
            value = old if not we or mode == "READBEFOREWRITE" else (
                new if mode == "WRITETHROUGH" else None)
            if value is not None:
                out_a, out_b = (value, out_b) if port == "a" else (out_a, value)
        if we_a:
            memory[ad_a] = di_a
        if we_b:
            memory[2 * ad_b], memory[2 * ad_b + 1] = new_b & 0x1FF, new_b >> 9
        ops.append(((we_a, ad_a << 3, di_a), (we_b, ad_b << 4 | (en_b if we_b else 0), di_b)))
        want.append((out_a, out_b))
    assert _run_dp16kd(tmp_path, _dp16kd_case(9, 18, mode, ops)) == want
