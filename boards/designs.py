"""The designs a board can carry: the fewmul array or the multiplier baseline, by name.

Both take one :class:`fewmul.config.Config` (``array_rows`` x ``array_cols`` PEs and every
width), have the same ports, and are built by :func:`make_design`.
"""

from fewmul.config import Config

__all__ = ["DESIGNS", "array_config", "make_design", "pe_count"]

DESIGNS = ("fewmul", "baseline")


def array_config(rows, cols, **fields):
    """The Config of a ``rows`` x ``cols`` array (other fields: Config's defaults)."""
    return Config(array_rows=rows, array_cols=cols, **fields)


def pe_count(cfg):
    return cfg.array_rows * cfg.array_cols


def make_design(design, cfg):
    """The Component for ``design`` (one of :data:`DESIGNS`) with configuration ``cfg``."""
    if design == "fewmul":
        from fewmul.hw.array import PEArray
        return PEArray(cfg)
    if design == "baseline":
        from fewmul.hw.baseline import MultiplierArray
        return MultiplierArray(cfg)
    raise ValueError(f"unknown design {design!r}; choose one of {', '.join(DESIGNS)}")
