"""``fewmul formal``: prove the datapath blocks with SymbiYosys (``docs/formal.md``).

Runs every proof of ``fewmul.sim.proofs`` (or those matching ``-k``) and prints one line per
proof: status, name, mode (prove / bmc / cover), depth, time, and the property; on FAIL the
failed assertion (its Python line) and the counterexample trace. ``--mutants`` also runs each
proof on deliberately broken blocks, which must FAIL ("killed"); a mutant that passes means a
vacuous proof. The exit code is 1 if any proof fails or any mutant survives.
"""

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

DEMO_STEPS = []


def default_shifter_tag():
    """The name tag of the default Config's update shifter (``w<err>s<max shift>f<rand>``):
    derived, not written out, because the update's shift range follows the Config (``lr_range``
    widened it from 10 to 13)."""
    from fewmul.config import Config
    cfg = Config()
    return f"shifter.w{cfg.err_bits}s{cfg.update_max_shift}f{cfg.rand_bits}"


#: Proofs of the default Config, one per block: what ``fewmul demo`` runs.
DEMO_PATTERNS = (f"{default_shifter_tag()}.floor", "rng.b8.step", "rng.b8.nonzero",
                 "sampler.bin_stoch.spec", "quantizer.stoch.spec", "update.stoch.saturate",
                 "pe.bin_stoch.signflip")


def add_parser(sub):
    p = sub.add_parser("formal", help="prove the datapath blocks with SymbiYosys")
    p.add_argument("-k", dest="pattern",
                   help="only proofs whose name contains PATTERN (or matches it as a glob)")
    p.add_argument("--mutants", action="store_true",
                   help="also check that every mutant (broken block) fails its proof")
    p.add_argument("--only-mutants", action="store_true", help="run the mutants only")
    p.add_argument("--list", action="store_true", help="list the proofs and exit")
    p.add_argument("--solver", choices=("yices", "z3"), default="yices")
    p.add_argument("-j", dest="jobs", type=int, default=1,
                   help="proofs run in parallel (each is one solver process)")
    p.add_argument("--out", default=None, help="build directory (default build/formal)")
    p.add_argument("--markdown", metavar="PATH",
                   help="write the results table into the 'formal' section of PATH "
                        "(docs/formal.md)")
    p.set_defaults(func=run)


def _run_all(proofs, *, jobs, solver, out, on_result):
    from fewmul.sim.formal import run_proof

    def one(proof):
        return run_proof(proof, build_root=out, solver=solver)

    results = []
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for result in pool.map(one, proofs):
            on_result(result)
            results.append(result)
    return results


def _unavailable():
    from fewmul.sim.proofs import available
    return [name for name, module in available().items() if module is None]


def markdown_table(results, mutants=()):
    """The results as a markdown table (and the mutants as a second one)."""
    lines = ["| proof | mode | depth | time | status | property |",
             "|---|---|---|---|---|---|"]
    for r in results:
        p = r.proof
        lines.append(f"| `{p.name}` | {p.mode} | {p.depth} | {r.seconds:.1f} s | {r.status} | "
                     f"{p.prop.replace('|', '/')} |")
    if mutants:
        lines += ["", "| mutant (must FAIL) | time | status |", "|---|---|---|"]
        for r in mutants:
            verdict = "killed" if r.status == "FAIL" else f"SURVIVED ({r.status})"
            lines.append(f"| `{r.proof.name}` | {r.seconds:.1f} s | {verdict} |")
    return "\n".join(lines) + "\n"


def run(args):
    from fewmul.sim.formal import default_formal_root
    from fewmul.sim.proofs import all_mutants, all_proofs

    proofs = [] if args.only_mutants else all_proofs(args.pattern)
    mutants = all_mutants(args.pattern) if (args.mutants or args.only_mutants) else []
    missing = _unavailable()
    if args.list:
        for p in proofs + mutants:
            print(f"{p.name:<48} {p.mode:<5} depth {p.depth:<3} {p.prop}")
        if missing:
            print(f"blocks not written yet: {', '.join(missing)}")
        return 0
    if not proofs and not mutants:
        print(f"no proof matches {args.pattern!r}")
        return 1
    out = Path(args.out).resolve() if args.out else default_formal_root()
    started = time.monotonic()
    results = _run_all(proofs, jobs=args.jobs, solver=args.solver, out=out,
                       on_result=lambda r: print(r.summary(), flush=True))

    def show_mutant(r):
        verdict = "KILLED " if r.status == "FAIL" else "SURVIVED"
        print(f"{verdict} {r.proof.name:<52} {r.seconds:6.1f} s  (proof {r.status})",
              flush=True)

    if mutants:
        print(f"-- mutants: each must FAIL its proof ({len(mutants)})")
    killed = _run_all(mutants, jobs=args.jobs, solver=args.solver, out=out / "mutants",
                      on_result=show_mutant)
    failed = [r for r in results if not r.passed]
    survived = [r for r in killed if r.status != "FAIL"]
    print(f"\n{len(results) - len(failed)}/{len(results)} proofs passed"
          + (f", {len(killed) - len(survived)}/{len(killed)} mutants killed" if killed else "")
          + f" in {time.monotonic() - started:.0f} s ({args.solver}); build dir {out}")
    if missing:
        print(f"not proven (block not written yet): {', '.join(missing)}")
    if args.markdown:
        from fewmul.results import update_section
        command = "fewmul formal" + (f" -k '{args.pattern}'" if args.pattern else "") + (
            " --mutants" if mutants else "")
        update_section("formal", "Proof results", command, markdown_table(results, killed),
                       path=args.markdown)
        print(f"wrote {args.markdown}")
    return 1 if failed or survived else 0


def _demo_step(out):
    from fewmul.sim.formal import run_proof
    from fewmul.sim.proofs import all_proofs
    proofs = [p for p in all_proofs() if p.name in DEMO_PATTERNS]
    results = [run_proof(p, build_root=out / "formal") for p in proofs]
    bad = [r.proof.name for r in results if not r.passed]
    if bad:
        raise RuntimeError(f"proofs failed: {', '.join(bad)} (run `fewmul formal`)")
    seconds = sum(r.seconds for r in results)
    blocks = ", ".join(dict.fromkeys(p.block for p in proofs))
    return (f"{len(results)} default-Config proofs PASS ({blocks}) in {seconds:.0f} s; "
            f"all of them: `fewmul formal --mutants`")


DEMO_STEPS.append(("formal proofs (SymbiYosys)", _demo_step))
