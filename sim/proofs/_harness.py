"""Shared pieces of the proofs: free inputs, and mutants of a block for the vacuity checks.

:class:`Mutant` wraps a block in a component with the same ports and corrupts chosen inputs
(before the block sees them) or outputs (after it drives them). A proof run on a mutant must
FAIL; if it passes, the proof does not constrain what the mutation broke.
"""

from functools import partial

from amaranth.hdl import ClockDomain, Elaboratable, Module
from amaranth.lib import wiring

__all__ = ["Mutant", "port", "Harness", "mutated", "fsm_states", "internal", "legal_state",
           "elaborate_once"]


def port(obj, path):
    """The port of ``obj`` at a signature ``path`` (names and array indices)."""
    for part in path:
        obj = obj[part] if isinstance(part, int) else getattr(obj, part)
    return obj


def _key(path):
    return ".".join(str(p) for p in path)


class Mutant(wiring.Component):
    """``block`` with its ports forwarded, except that ``inputs[name](value)`` reaches the block
    instead of ``value`` and ``outputs[name](value)`` leaves it instead of ``value`` (names are
    dotted signature paths: ``"shift"``, ``"o.payload"``). Other attributes read through to the
    block, so a harness can use a mutant wherever it uses the block.
    """

    def __init__(self, block, *, inputs=None, outputs=None, description=""):
        self._block = block
        self._inputs = dict(inputs or {})
        self._outputs = dict(outputs or {})
        self.description = description
        members = dict(block.signature.members)
        known = {_key(path): member for path, member in block.signature.members.flatten()
                 if member.is_port}
        for names, flow in ((self._inputs, wiring.In), (self._outputs, wiring.Out)):
            for name in names:
                if name not in known or known[name].flow != flow:
                    # Neither the block nor this wrapper will be elaborated: no unused warning.
                    block._MustUse__silence = self._MustUse__silence = True
                    raise ValueError(f"{block!r} has no {flow.name} port {name!r}")
        super().__init__(wiring.Signature(members))
        self._forward = True
        self._fragment = None           # the block already elaborated (see ``elaborate_once``)

    def __getattr__(self, name):
        # Only once the ports exist: Component.__init__ checks that no attribute shadows them.
        if name.startswith("_") or not self.__dict__.get("_forward"):
            raise AttributeError(name)
        return getattr(self._block, name)

    def elaborate(self, platform):
        m = Module()
        block = self._block
        m.submodules.block = self._fragment if self._fragment is not None else block
        for path, member in self.signature.members.flatten():
            if not member.is_port:
                continue
            outer, inner, key = port(self, path), port(block, path), _key(path)
            if member.flow == wiring.In:
                fn = self._inputs.get(key)
                m.d.comb += inner.eq(fn(outer) if fn else outer)
            else:
                fn = self._outputs.get(key)
                m.d.comb += outer.eq(fn(inner) if fn else inner)
        return m


class Harness(Elaboratable):
    """An elaboratable whose ``elaborate`` is ``body(m, make)``: ``make()`` builds the block
    under proof (the real one, or a mutant), ``body`` drives it and states the property.

    The harness owns the ``sync`` domain; its clock and reset are the design's only ports
    (:attr:`ports`), so the solver steps the clock and may assert reset in any cycle. (An
    undriven clock would let Yosys fold every flip-flop into a constant.)
    """

    def __init__(self, body, make):
        self._body = body
        self._make = make
        self.sync = ClockDomain("sync")

    @property
    def ports(self):
        return [self.sync.clk, self.sync.rst]

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = self.sync
        self._body(m, self._make)
        return m


def _build_mutant(make, changes):
    return Mutant(make(), **changes)


def mutated(proof, body, make, slug, *, depth=None, **changes):
    """``proof`` (whose harness is ``body``) run on ``Mutant(make(), **changes)``, or, without
    ``changes``, on ``make()`` itself (a broken subclass); named ``<proof name>~<slug>``.
    ``depth`` deepens the run when the mutant's counterexample is longer than the proof's
    induction depth."""
    block = partial(_build_mutant, make, changes) if changes else make
    return proof.with_build(partial(Harness, body, block), name=f"{proof.name}~{slug}",
                            depth=depth)


def internal(fragment, *names):
    """The signals called ``names`` that ``fragment``'s own statements drive (white-box)."""
    found = {}
    for statements in fragment.statements.values():
        for statement in statements:
            for signal in statement._lhs_signals():
                if signal.name in names:
                    found.setdefault(signal.name, {})[id(signal)] = signal
    missing = [n for n in names if len(found.get(n, {})) != 1]
    if missing:
        raise ValueError(f"no single signal named {', '.join(missing)} in {fragment!r}")
    return [next(iter(found[n].values())) for n in names]


def legal_state(state, encodings):
    """``state`` holds one of the FSM's encodings (an induction-strengthening invariant)."""
    legal = 0
    for value in encodings.values():
        legal = legal | (state == value)
    return legal


def elaborate_once(m, dut):
    """Add ``dut`` (a block or a :class:`Mutant` of one) to ``m`` as ``dut``, elaborating the
    block here so a white-box proof can read its internal signals; returns its fragment."""
    from amaranth.hdl._ir import Fragment

    inner = dut._block if isinstance(dut, Mutant) else dut
    fragment = Fragment.get(inner, None)
    if isinstance(dut, Mutant):
        dut._fragment = fragment
        m.submodules.dut = dut
    else:
        m.submodules.dut = fragment
    return fragment


def fsm_states(block, fsm_name):
    """Elaborate ``block`` and find its FSM ``fsm_name``: ``(fragment, state, encodings)``.

    White-box access for protocol proofs that speak of a block's states ("idle", "receiving"):
    ``state`` is the FSM's state signal, ``encodings`` maps each state name to its value. Add
    ``fragment`` as the submodule (not ``block``, which must not be elaborated twice).
    """
    from amaranth.hdl._ir import Fragment

    fragment = block if isinstance(block, Fragment) else Fragment.get(block, None)
    found = {}
    for statements in fragment.statements.values():
        for statement in statements:
            for signal in statement._lhs_signals():
                if signal.name == f"{fsm_name}_state":
                    found[id(signal)] = signal
    if len(found) != 1:
        raise ValueError(f"{block!r} has no single FSM named {fsm_name!r}")
    state = next(iter(found.values()))
    encodings = {}
    for value in range(2 ** len(state)):
        try:
            encodings[state.decoder(value).rsplit("/", 1)[0]] = value
        except KeyError:
            continue
    return fragment, state, encodings
