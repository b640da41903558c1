"""One build of the sweep: place and route one point, or read it back from the log."""

import time
from pathlib import Path

from .log import point_dir, point_key
from .settings import DEVICES

__all__ = ["build_point"]


def build_point(device, design, rows, cols, seed, out, log, fmt=None, router=None):
    """One build (or its logged result): the report plus ``key``, ``fits`` and ``passes``.

    ``fmt``: Config fields of the number format (:func:`~fewmul.boards.designs.format_fields`;
    ``None`` or ``{}``: the default format); ``router``: nextpnr's ``--router`` (``None``: its
    default)."""
    from fewmul.boards.designs import array_config, format_tag
    from fewmul.boards.synth import SynthesisFailed, build_design

    cfg = array_config(rows, cols, **(fmt or {}))
    tag = format_tag(cfg)
    key = point_key(device, design, rows, cols, seed, tag)
    if key in log.points:
        return log.points[key]
    if log.offline:
        return {"key": key, "rows": rows, "cols": cols, "pes": rows * cols, "seed": seed,
                "format": tag, "fits": False, "passes": False, "skipped": True}
    spec = DEVICES[device]
    build_dir = point_dir(out, device, design, rows, cols, tag, seed)
    started = time.monotonic()
    print(f"  {key} ...", end="", flush=True)
    try:
        report = build_design(spec["board"], design, cfg, build_dir=build_dir, seed=seed,
                              clock_mhz=spec["clock_mhz"],
                              nextpnr_opts=("--router", router) if router else ())
        report["fits"] = True
        report["passes"] = bool(report["meets_timing"])
    except SynthesisFailed as exc:
        tail = _log_tail(build_dir)
        report = {"device": device, "design": design, "rows": rows, "cols": cols,
                  "pes": rows * cols, "seed": seed, "fits": False, "passes": False,
                  "error": f"{exc}", "log_tail": tail}
    report["key"] = key
    report["format"] = tag
    report["format_fields"] = dict(fmt or {})
    report["build_dir"] = str(build_dir)
    report["wall_seconds"] = round(time.monotonic() - started, 1)
    _trim(report)
    log.add(report)
    if report["fits"]:
        print(f" {report['logic_cells']['used']}/{report['logic_cells']['available']} LC, "
              f"{report['fmax_mhz']} MHz, {report['wall_seconds']:.0f} s", flush=True)
    else:
        print(f" does not build ({report['log_tail'][-1] if report['log_tail'] else '?'})",
              flush=True)
    return report


def _trim(report):
    # Keep the log small: only resources the design uses.
    if "utilization" in report:
        report["utilization"] = {k: v for k, v in report["utilization"].items() if v["used"]}


def _log_tail(build_dir):
    lines = []
    for name in ("top.tim", "top.rpt"):
        path = Path(build_dir) / name
        if path.exists():
            lines += [ln for ln in path.read_text(errors="replace").splitlines()
                      if "ERROR" in ln or "rror" in ln][-3:]
    return lines
