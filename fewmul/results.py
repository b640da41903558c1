"""``docs/results.md``: each benchmark command owns one marked section and rewrites only it.

A section is delimited by ``<!-- BEGIN name -->`` / ``<!-- END name -->`` and starts with the
command that regenerates it, so every figure in the file can be reproduced.
"""

import json
import re
from pathlib import Path

__all__ = ["RESULTS", "update_section", "write_json", "save_figure"]

RESULTS = Path(__file__).resolve().parent.parent / "docs" / "results.md"

_HEADER = ("# fewmul results\n\nEvery table below is written by the command shown above it; "
           "rerun the command to regenerate it.\n")


def update_section(name, title, command, body, path=None):
    """Replace (or append) section ``name`` of the results file with ``body`` (markdown)."""
    path = Path(path or RESULTS)
    text = path.read_text() if path.exists() else _HEADER
    block = (f"<!-- BEGIN {name} -->\n## {title}\n\n```\n{command}\n```\n\n{body.rstrip()}\n"
             f"<!-- END {name} -->")
    pattern = re.compile(rf"<!-- BEGIN {re.escape(name)} -->.*?<!-- END {re.escape(name)} -->",
                         re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def save_figure(fig, path, dpi=110):
    """Lay out ``fig``, write it to ``path`` (creating folders) and close it; returns the path."""
    import matplotlib.pyplot as plt
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def write_json(path, data):
    """Write ``data`` as indented JSON (creating folders); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")
    return path
