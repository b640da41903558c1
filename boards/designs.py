"""The designs a board can carry, by name, each from one :class:`fewmul.config.Config`.

- ``fewmul``: the multiplier-free ``PEArray`` (``array_rows`` x ``array_cols`` PEs);
- ``baseline``: the ``MultiplierArray`` with the same ports and widths;
- ``system``: the whole trainer on the UART (``hw.engine.EngineSystem``: host link, engine
  with its memories and sequencer, and one ``PEArray``).
"""

from fewmul.config import Config

__all__ = ["DESIGNS", "array_config", "make_design", "pe_count"]

DESIGNS = ("fewmul", "baseline", "system")


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
    if design == "system":
        from fewmul.hw.engine import EngineSystem
        # A frame's bytes arrive every 10 bit times; 40 byte times of silence end a frame.
        return EngineSystem(cfg, timeout_cycles=40 * 10 * 2 ** 10)
    raise ValueError(f"unknown design {design!r}; choose one of {', '.join(DESIGNS)}")
