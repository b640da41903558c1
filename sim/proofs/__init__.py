"""Formal proofs of the datapath blocks, one module per block (``docs/formal.md`` lists them).

Each proof module names the hardware module it checks (``BLOCK``) and defines ``proofs()``, the
list of :class:`~fewmul.sim.formal.Proof` that must PASS, and ``mutants()``, a list of proofs run
on deliberately broken variants of the block that must FAIL (so no proof is vacuous). A proof
module whose block is not written yet loads as unavailable instead of failing.
"""

import fnmatch
import importlib
import pkgutil

__all__ = ["MODULES", "load", "available", "all_proofs", "all_mutants", "matches"]

#: Proof modules, in datapath order first (any other module found here runs after them).
_ORDER = ("shifter", "rng", "sampler", "quantizer", "update", "pe", "crc", "uart", "link")
_FOUND = {m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")}
MODULES = tuple(n for n in _ORDER if n in _FOUND) + tuple(sorted(_FOUND - set(_ORDER)))


def load(name):
    """The proof module ``name``, or ``None`` when the block it proves does not exist yet."""
    module = importlib.import_module(f"{__name__}.{name}")
    try:
        importlib.import_module(module.BLOCK)
    except ModuleNotFoundError as exc:
        if exc.name != module.BLOCK:
            raise
        return None
    return module


def available():
    """``{name: module or None}`` for every proof module."""
    return {name: load(name) for name in MODULES}


def matches(name, pattern):
    if not pattern:
        return True
    return pattern in name or fnmatch.fnmatchcase(name, pattern)


def all_proofs(pattern=None):
    out = []
    for module in available().values():
        if module is not None:
            out += [p for p in module.proofs() if matches(p.name, pattern)]
    return out


def all_mutants(pattern=None):
    out = []
    for module in available().values():
        if module is not None:
            out += [p for p in module.mutants() if matches(p.name, pattern)]
    return out
