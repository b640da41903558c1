"""A refused component leaves nothing behind: no ``created but never used`` warning when the
garbage collector reaches it (under ``-W error`` it would fail some later, unrelated test)."""

import gc
import warnings

import pytest
from amaranth.hdl import Fragment, Module, UnusedElaboratable

from fewmul.hw.engine import EngineSystem
from fewmul.hw.link import Link
from fewmul.hw.mac_array import SystolicMacArray
from fewmul.training import default_config

CFG = default_config().replace(layers=(16, 8, 4), array_rows=4, array_cols=4)


@pytest.mark.parametrize("build", [
    lambda: Link(word_bits=8, depths=(), max_payload=64),
    lambda: SystolicMacArray(rows=0, cols=2),
    # the Engine inside is built, then the Link refuses the payload size
    lambda: EngineSystem(CFG, max_payload=1),
], ids=["link", "mac-array", "system-with-a-built-engine"])
def test_a_refused_component_warns_nothing_when_collected(build):
    Fragment.get(Module(), None)        # Amaranth warns only once something was elaborated
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(ValueError):
            build()
        gc.collect()
    assert [w for w in caught if issubclass(w.category, UnusedElaboratable)] == []
