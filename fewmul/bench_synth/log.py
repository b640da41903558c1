"""The sweep's append-only record of builds (``<out>/points.jsonl``): keys, format tags, build
directories."""

import json
from pathlib import Path

__all__ = ["PointLog", "point_key", "point_tag", "format_label", "format_of", "point_dir",
           "build_dir_of"]


def point_key(device, design, rows, cols, seed, tag=""):
    return f"{device}/{design}/{rows}x{cols}/{tag + '/' if tag else ''}seed{seed}"


def point_tag(point):
    """The format tag of a logged point (points logged before formats existed: default)."""
    return point.get("format", "")


def format_label(tag):
    """Readable number format of a tag: ``W16 E16.12`` = 16-bit weights, 16-bit errors with
    12 fraction bits."""
    from fewmul.config import Config
    if not tag:
        c = Config()
        return f"W{c.weight_bits} E{c.err_bits}.{c.err_frac}"
    import re
    w, e, f, a = re.fullmatch(r"w(\d+)e(\d+)f(\d+)(?:a(\d+))?", tag).groups()
    return f"W{w} E{e}.{f}" + (f" A{a}" if a else "")


class PointLog:
    """The append-only record of every build of the sweep (resumable)."""

    def __init__(self, path, offline=False):
        self.offline = offline
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.points = {}
        if self.path.exists():
            for line in self.path.read_text().splitlines():
                if line.strip():
                    point = json.loads(line)
                    self.points[point["key"]] = point

    def add(self, point):
        self.points[point["key"]] = point
        with self.path.open("a") as f:
            f.write(json.dumps(point) + "\n")


def format_of(log, device, tag):
    """The format fields of a logged tag (read back from a build's recorded config)."""
    from fewmul.boards.designs import FORMAT_FIELDS, format_fields
    for p in log.points.values():
        if p.get("device") == device and point_tag(p) == tag:
            if "format_fields" in p:
                return p["format_fields"]
            if "config" in p:
                return format_fields(**{k: p["config"][k] for k in FORMAT_FIELDS})
    return None


def point_dir(out, device, design, rows, cols, tag, seed):
    """Build directory of a point: ``<out>/<device>/<design>/<R>x<C>-[<tag>-]seed<n>``."""
    return Path(out) / device / design / f"{rows}x{cols}-{tag + '-' if tag else ''}seed{seed}"


def build_dir_of(point, out):
    if "build_dir" in point:
        return Path(point["build_dir"])
    return point_dir(out, point["device"], point["design"], point["rows"], point["cols"],
                      point_tag(point), point["seed"])
