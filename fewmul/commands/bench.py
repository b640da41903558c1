"""``fewmul bench <name>``: a dispatcher of sub-benchmarks.

Each sub-benchmark is a module listed in :data:`BENCHMARKS` that defines
``add_arguments(parser)`` and ``run(args) -> exit code``; its docstring's first line is its help.
Add one by adding a line to :data:`BENCHMARKS`.
"""

import importlib

__all__ = ["BENCHMARKS", "add_parser"]

#: name -> module of the sub-benchmark.
BENCHMARKS = {
    "golden": "fewmul.bench_golden",
    "synth": "fewmul.bench_synth",
    "sim": "fewmul.bench_sim",
    "trainer": "fewmul.bench_trainer",
    "settle": "fewmul.bench_settle",
    "cost": "fewmul.bench_cost",
}


def add_parser(sub):
    p = sub.add_parser("bench", help="run a benchmark and write its section of docs/results.md")
    benches = p.add_subparsers(dest="bench", required=True, metavar="BENCH")
    for name, module_name in BENCHMARKS.items():
        module = importlib.import_module(module_name)
        doc = (module.__doc__ or name).strip().splitlines()[0]
        q = benches.add_parser(name, help=doc, description=doc)
        module.add_arguments(q)
        q.set_defaults(func=module.run)
