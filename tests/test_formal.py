"""Every formal proof of ``fewmul.sim.proofs`` passes (SymbiYosys, seconds each).

The default-Config proofs of each block run in every pytest run; the other configurations
are marked ``slow``. Mutants (proofs that must fail) are in ``test_formal_mutants.py``.
"""

import pytest

from fewmul.commands.formal import default_shifter_tag
from fewmul.sim.formal import run_proof
from fewmul.sim.proofs import all_proofs, available

#: Proof-name prefixes of the default Config (and of the demo's shifter): the quick set.
QUICK = (f"{default_shifter_tag()}.", "rng.b8.", "sampler.bin_stoch.", "sampler.ter_stoch.",
         "quantizer.stoch.", "update.stoch.", "pe.bin_stoch.", "crc.", "uart.d4.rx")


def _quick(proof):
    """The quick set: the default Config's proofs, and the host link's k-induction proofs (a
    few seconds each; its cover tasks take up to a minute and are ``slow``)."""
    return proof.name.startswith(QUICK) or (proof.block == "link" and proof.mode == "prove")


def _params(proofs):
    return [pytest.param(p, id=p.name, marks=() if _quick(p) else pytest.mark.slow)
            for p in proofs]


@pytest.mark.parametrize("proof", _params(all_proofs()))
def test_proof(proof, build_dir):
    result = run_proof(proof, build_root=build_dir)
    assert result.passed, result.summary()


@pytest.mark.parametrize("name", sorted(available()))
def test_block_written(name):
    """Each proof module's block exists; one that does not is reported, not silently skipped."""
    if available()[name] is None:
        pytest.skip(f"the block proof module {name!r} checks is not written yet")


def test_link_bounds_documented():
    """docs/formal.md states the link's deadlines with the values the proofs use."""
    from pathlib import Path

    from fewmul.sim.proofs.link import answer_bound, idle_bound
    text = (Path(__file__).resolve().parents[1] / "docs" / "formal.md").read_text()
    assert f"at most {answer_bound()} clocks have passed" in text
    assert f"after {idle_bound()} clocks without a received byte" in text
    assert f"`since + work <= {idle_bound()}`" in text
