"""No proof is vacuous: each deliberately broken block fails its proof with a counterexample.

A mutant is the block wrapped to corrupt one input or output (a flipped bit, a shift off by
one, a draw off by one, a dropped sign flip or zero code) or a subclass with one design
decision undone (logical instead of arithmetic shift, no shift clamp, no saturation, a
different sign for the backward product, a non-bijective generator step).
"""

import pytest

from fewmul.sim.formal import run_proof
from fewmul.sim.proofs import all_mutants


@pytest.mark.slow
@pytest.mark.parametrize("mutant", [pytest.param(p, id=p.name) for p in all_mutants()])
def test_mutant_fails(mutant, build_dir):
    result = run_proof(mutant, build_root=build_dir)
    assert result.status == "FAIL", f"mutant survived: {result.summary()}"
    assert result.trace is not None and result.trace.exists(), result.summary()
