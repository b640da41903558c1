"""The sweep's search: the largest passing shape of a list (gallop, then bisect), and the
median-Fmax build of a configuration over its seeds."""

import statistics

from . import build
from .log import point_key, point_tag

__all__ = ["sweep", "best_build"]


def sweep(device, design, shapes, *, seeds, out, log, fmt=None, router=None):
    """Largest passing shape of ``shapes`` for ``design`` on ``device``; all its seeds' builds.

    With an offline log (``--report-only``): of the logged shapes (of ``shapes`` or built with
    ``--points``) that pass, the one with the highest peak MAC/s (PEs x seed-1 Fmax: a larger
    array at a lower clock may do less), else the largest that fits (its report says it misses
    timing), with every seed logged for it. ``fmt``: the number format (see
    :func:`build_point`).
    """
    from fewmul.boards.designs import array_config, format_tag
    tag = format_tag(array_config(1, 1, **(fmt or {})))
    if log is not None and log.offline:
        points = [p for p in log.points.values()
                  if p["seed"] == 1 and p.get("device") == device and p.get("design") == design
                  and point_tag(p) == tag]
        for wanted in ("passes", "fits"):
            candidates = [((p["pes"] * p["fmax_mhz"]) if wanted == "passes" else p["pes"],
                           p["rows"], p["cols"]) for p in points if p.get(wanted)]
            if candidates:
                _, rows, cols = max(candidates)
                prefix = point_key(device, design, rows, cols, "", tag)
                builds = sorted((p for k, p in log.points.items() if k.startswith(prefix)),
                                key=lambda p: p["seed"])
                return (rows, cols), builds
        return None, []
    results = {}

    def attempt(index):
        rows, cols = shapes[index]
        estimate = _extrapolate(results, rows * cols)
        if estimate is not None and log is not None and point_key(
                device, design, rows, cols, 1, tag) not in log.points:
            cells, available = estimate
            if cells > 1.5 * available:              # a build that cannot fit: skip it
                print(f"  {device}/{design}/{rows}x{cols}: about {cells:.0f} logic cells "
                      f"> {available} (extrapolated), not built", flush=True)
                results[index] = {"pes": rows * cols, "fits": False, "passes": False,
                                  "estimated_cells": round(cells)}
                return False
        results[index] = build.build_point(device, design, rows, cols, 1, out, log, fmt=fmt,
                                     router=router)
        return results[index]["passes"]

    # Gallop (indices 0, 1, 3, 7, ...) until a build fails, then bisect: few big builds.
    best, first_fail, index = None, None, 0
    while index < len(shapes):
        if attempt(index):
            best = index
            index = min(2 * index + 1, len(shapes) - 1) if index < len(shapes) - 1 else len(shapes)
        else:
            first_fail = index
            break
    if first_fail is not None:
        lo, hi = (best if best is not None else -1), first_fail
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if attempt(mid):
                lo = mid
            else:
                hi = mid
        best = lo if lo >= 0 else None
    if best is None:
        return None, []
    rows, cols = shapes[best]
    builds = [build.build_point(device, design, rows, cols, seed, out, log, fmt=fmt, router=router)
              for seed in range(1, seeds + 1)]
    return shapes[best], builds


def _extrapolate(results, pes):
    """Logic cells of ``pes`` PEs, linear through the two largest builds that fitted."""
    fitted = sorted((r for r in results.values() if r.get("fits") and "logic_cells" in r),
                    key=lambda r: r["pes"])
    if len(fitted) < 2 or pes <= fitted[-1]["pes"]:
        return None
    a, b = fitted[-2], fitted[-1]
    per_pe = ((b["logic_cells"]["used"] - a["logic_cells"]["used"]) / (b["pes"] - a["pes"])
              if b["pes"] > a["pes"] else 0)
    return (b["logic_cells"]["used"] + per_pe * (pes - b["pes"]),
            b["logic_cells"]["available"])


def best_build(builds):
    """The median-Fmax build of one configuration, with min/median/max over its seeds."""
    fitted = [b for b in builds if b.get("fits")]
    if not fitted:
        return None
    fitted.sort(key=lambda b: b["fmax_mhz"])
    median = dict(fitted[len(fitted) // 2])
    fmaxes = [b["fmax_mhz"] for b in fitted]
    median["fmax_seeds_mhz"] = {"min": min(fmaxes), "median": statistics.median(fmaxes),
                                "max": max(fmaxes), "seeds": [b["seed"] for b in fitted],
                                "seeds_meeting": [b["seed"] for b in fitted
                                                  if b["fmax_mhz"] >= b["constraint_mhz"]]}
    median["fmax_mhz"] = statistics.median(fmaxes)
    median["peak_macs_per_s"] = median["pes"] * median["fmax_mhz"] * 1e6
    median["meets_timing"] = median["fmax_mhz"] >= median["constraint_mhz"]
    return median
