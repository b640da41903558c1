"""``fewmul bench synth``: how many training PEs fit each chip, at what Fmax, against the baseline.

For each device (iCE40UP5K on the iCEBreaker, ECP5-85F on the ULX3S) and each design (the fewmul
array, the multiplier baseline) the sweep grows the array through :data:`SHAPES` with nextpnr
seed 1 (galloping: shapes 0, 1, 3, 7, ... of the list) until a build no longer fits or misses
the device's clock target (a shape whose logic cells, extrapolated linearly from the two largest
builds, exceed the chip by half is not built), bisects between the last pass and the
first failure, then re-places the largest passing configuration with more seeds (min / median /
max Fmax). Every build is one :func:`fewmul.boards.synth.build_design`; every result is appended
to ``<out>/points.jsonl`` as it lands, so an interrupted sweep resumes where it stopped and a
partial sweep still reports.

Number formats: ``--weight-bits``, ``--err-bits``, ``--err-frac`` (default: Config's defaults)
sweep a narrower format (:func:`fewmul.boards.designs.format_fields`); a non-default format's
tag (``w8e12f8``: weight bits, error bits, error fraction bits) is part of every key, build
directory and table row, so points of different formats never mix. The report covers every
format in the log.

Outputs: the markdown table in ``docs/results.md`` (section ``bench-synth``), plots
``docs/img/synth_pes_vs_luts.png`` and ``docs/img/synth_macs_vs_pes.png``, and with ``--json``
``{"<device>": {"fewmul": <best build report>, "baseline": <best build report>}}``.

The parts, one job each: :mod:`.settings` (devices, shapes, designs), :mod:`.log` (the record
of builds), :mod:`.build` (one build), :mod:`.search` (the sweep's search and the best build
over seeds), :mod:`.tables`, :mod:`.critical_path`, :mod:`.area` (per-module breakdown),
:mod:`.plots`, and :mod:`.command` (arguments, the run and the docs section).
"""

from .area import area_breakdown, breakdown_table
from .build import build_point
from .command import add_arguments, main, run
from .critical_path import critical_path, critical_paths_table
from .log import PointLog, format_label, format_of, point_key
from .search import best_build, sweep
from .settings import DESIGNS, DEVICES, QUICK, SHAPES
from .tables import seeds_meeting

__all__ = ["DESIGNS", "DEVICES", "QUICK", "SHAPES", "PointLog", "add_arguments", "area_breakdown",
           "best_build", "breakdown_table", "build_point", "critical_path",
           "critical_paths_table", "format_label", "format_of", "main", "point_key", "run",
           "seeds_meeting", "sweep"]
