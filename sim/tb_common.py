"""Pieces shared by the datapath testbenches: a combinational-block harness and a scoreboard.

A combinational block (sampler, quantizer, update) is checked in batches: the driver applies one
input vector per nanosecond, the monitor samples the outputs, and only then the golden model runs
once on the whole batch (numpy) and the scoreboard compares arrays. Python wakes once per
transaction, never per golden evaluation.
"""

import json
from pathlib import Path

import numpy as np
from cocotb.triggers import Timer

__all__ = ["Scoreboard", "CombinationalHarness", "TALLY"]

#: Every checked scoreboard appends ``{"name", "checked", "failures"}`` here (one JSON object a
#: line), in the test directory (the case's build directory); emptied once per simulator run.
TALLY = Path("scoreboard.jsonl")
TALLY.unlink(missing_ok=True)


class Scoreboard:
    """Compares batches of observed against expected outputs; keeps the first mismatches."""

    def __init__(self, name, log, keep=8):
        self.name = name
        self.log = log
        self.keep = keep
        self.checked = 0
        self.failures = 0
        self.examples = []

    def compare(self, stimulus, got, want):
        """``stimulus``, ``got``, ``want``: dicts of equal-length arrays (one row a transaction)."""
        n = len(next(iter(got.values())))
        bad = np.zeros(n, dtype=bool)
        for key, value in want.items():
            bad |= np.asarray(got[key], dtype=np.int64) != np.asarray(value, dtype=np.int64)
        self.checked += n
        self.failures += int(bad.sum())
        for index in np.flatnonzero(bad)[: max(0, self.keep - len(self.examples))]:
            self.examples.append((
                {k: _item(v, index) for k, v in stimulus.items()},
                {k: _item(got[k], index) for k in want},
                {k: _item(v, index) for k, v in want.items()}))

    def check(self):
        with TALLY.open("a") as f:
            f.write(json.dumps({"name": self.name, "checked": self.checked,
                                "failures": self.failures}) + "\n")
        assert self.failures == 0, (
            f"{self.name}: {self.failures} of {self.checked} transactions mismatch; first "
            f"(stimulus, got, want): {self.examples}")
        self.log.info("%s: %d transactions, 0 mismatches", self.name, self.checked)


def _item(array, index):
    value = np.asarray(array)[index]
    return value.tolist() if hasattr(value, "tolist") else value


class CombinationalHarness:
    """Driver + monitor of a combinational component: one transaction per nanosecond.

    ``inputs``: port names; ``outputs``: ``{name: signed}``.
    """

    def __init__(self, dut, inputs, outputs):
        self.inputs = {name: getattr(dut, name) for name in inputs}
        self.outputs = {name: (getattr(dut, name), signed) for name, signed in outputs.items()}

    async def run(self, stimulus):
        """Apply ``stimulus`` (dict of equal-length int arrays); return the sampled outputs."""
        n = len(next(iter(stimulus.values())))
        columns = {name: np.asarray(stimulus[name], dtype=np.int64).tolist()
                   for name in self.inputs}
        got = {name: np.zeros(n, dtype=np.int64) for name in self.outputs}
        handles = list(self.inputs.items())
        monitors = [(name, handle, signed, got[name])
                    for name, (handle, signed) in self.outputs.items()]
        for k in range(n):
            for name, handle in handles:
                handle.value = columns[name][k]
            await Timer(1, unit="ns")
            for _, handle, signed, out in monitors:
                out[k] = handle.value.to_signed() if signed else int(handle.value)
        return got
