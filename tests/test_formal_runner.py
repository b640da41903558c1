"""The proof runner (``sim/formal.py``), the mutant wrapper and ``fewmul formal``."""

from functools import partial

import pytest
from amaranth.asserts import AnyConst
from amaranth.hdl import Assert, Cover, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from fewmul.cli import main
from fewmul.commands.formal import default_shifter_tag
from fewmul.sim.formal import Proof, run_proof
from fewmul.sim.proofs._harness import Harness, Mutant


class Incrementer(wiring.Component):
    a: In(4)
    b: Out(5)

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.b.eq(self.a + 1)
        return m


def _body(m, make, *, claim):
    m.submodules.dut = dut = make()
    a = AnyConst(4)
    m.d.comb += dut.a.eq(a)
    if claim == "true":
        m.d.comb += Assert(dut.b == a + 1)
    elif claim == "false":
        m.d.comb += Assert(dut.b != 16)                 # a = 15 breaks it
    else:
        m.d.comb += Cover(dut.b == 0)                   # unreachable


def _proof(claim, mode="prove", make=Incrementer):
    return Proof(name=f"toy.{claim}", block="toy", prop=claim, mode=mode, depth=1,
                 build=partial(Harness, partial(_body, claim=claim), make))


def test_true_property_passes(build_dir):
    result = run_proof(_proof("true"), build_root=build_dir)
    assert result.status == "PASS", result.summary()
    assert result.trace is None


def test_false_property_fails_with_trace(build_dir):
    result = run_proof(_proof("false"), build_root=build_dir)
    assert result.status == "FAIL"
    assert result.trace is not None and result.trace.suffix == ".vcd" and result.trace.exists()
    assert "test_formal_runner.py" in result.detail          # names the Python line
    assert "trace:" in result.summary()


def test_unreachable_cover_fails(build_dir):
    result = run_proof(_proof("cover", mode="cover"), build_root=build_dir)
    assert result.status == "FAIL"
    assert "Unreached cover statement" in result.detail


def test_mutant_breaks_true_property(build_dir):
    mutant = partial(Mutant, Incrementer(), outputs={"b": lambda b: b ^ 1})
    result = run_proof(_proof("true", make=lambda: mutant()), build_root=build_dir)
    assert result.status == "FAIL"


@pytest.mark.parametrize("kwargs, message", [
    (dict(mode="induct"), r"mode must be one of prove, bmc, cover; not 'induct'"),
    (dict(depth=0), r"depth must be a positive integer, not 0"),
    (dict(name="a b"), r"proof name must be a plain identifier, not 'a b'"),
])
def test_proof_rejects(kwargs, message):
    args = dict(name="toy", block="toy", prop="p", build=None) | kwargs
    with pytest.raises(ValueError, match=message):
        Proof(**args)


def test_mutant_rejects_unknown_port():
    with pytest.raises(ValueError, match=r"has no In port 'b'"):
        Mutant(Incrementer(), inputs={"b": lambda b: b})
    with pytest.raises(ValueError, match=r"has no Out port 'c'"):
        Mutant(Incrementer(), outputs={"c": lambda c: c})


def test_mutant_reads_through():
    inner = Incrementer()
    inner.latency = 3
    mutant = Mutant(inner)
    assert mutant.latency == 3
    assert isinstance(mutant.a, Signal) and mutant.a is not inner.a
    inner._MustUse__silence = mutant._MustUse__silence = True      # never elaborated


def test_cli_list(capsys):
    assert main(["formal", "--list", "-k", "shifter"]) == 0
    out = capsys.readouterr().out
    assert f"{default_shifter_tag()}.floor" in out and "prove" in out


def test_cli_runs_one_proof(capsys, tmp_path):
    md = tmp_path / "formal.md"
    assert main(["formal", "-k", "shifter.w6s3f0.floor", "--out", str(tmp_path),
                 "--markdown", str(md)]) == 0
    out = capsys.readouterr().out
    assert "PASS" in out and "shifter.w6s3f0.floor" in out and "1/1 proofs passed" in out
    assert "`shifter.w6s3f0.floor` | prove | 1 |" in md.read_text()


def test_cli_no_match(capsys):
    assert main(["formal", "-k", "no-such-proof"]) == 1
    assert "no proof matches" in capsys.readouterr().out
