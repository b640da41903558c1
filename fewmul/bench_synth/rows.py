"""``docs/results/synth.json``: the best configuration of each design as one flat row.

A row: ``device``, ``format`` (tag, ``""`` = Config's defaults), ``design`` (``fewmul`` or
``baseline``: every multiplier design counts as a baseline), ``array`` (the sweep's design name:
``fewmul``, ``baseline`` = the training multiplier array, ``systolic`` = the plain MAC array),
``rows``, ``cols``, ``pes``, ``dsp`` (hard multipliers used), ``logic_cells``,
``fmax_mhz_median`` (and ``_min``, ``_max`` over the seeds), ``seeds``, ``clock_mhz`` (the target),
``peak_macs_per_s`` (PEs x median Fmax). Rows merge into the file by (device, format, array), so
a run that builds one design keeps the other designs' rows.
"""

import json
from pathlib import Path

from .settings import MULTIPLIER_DESIGNS
from .tables import dsp_used

__all__ = ["best_rows", "merge_rows"]


def best_rows(best):
    """Rows of the best builds ``{(device, tag): {design: best build or None}}``."""
    rows = []
    for (device, tag), designs in best.items():
        for design, b in designs.items():
            if b is None:
                continue
            s = b["fmax_seeds_mhz"]
            rows.append({
                "device": device, "format": tag,
                "design": "baseline" if design in MULTIPLIER_DESIGNS else design,
                "array": design, "rows": b["rows"], "cols": b["cols"], "pes": b["pes"],
                "dsp": dsp_used(b), "logic_cells": b["logic_cells"]["used"],
                "fmax_mhz_median": s["median"], "fmax_mhz_min": s["min"],
                "fmax_mhz_max": s["max"],
                "seeds": s["seeds"], "clock_mhz": b["constraint_mhz"],
                "peak_macs_per_s": b["peak_macs_per_s"],
            })
    return rows


def merge_rows(path, rows):
    """Write ``rows`` into the JSON list at ``path``, replacing rows of the same (device,
    format, array); returns the merged list."""
    path = Path(path)
    old = json.loads(path.read_text()) if path.exists() else []
    new_keys = {_key(r) for r in rows}
    merged = [r for r in old if _key(r) not in new_keys] + rows
    merged.sort(key=lambda r: (r["device"], r["format"], r["design"] != "fewmul", r["array"]))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(merged, indent=2) + "\n")
    return merged


def _key(row):
    return row["device"], row["format"], row["array"]
