"""The designs a board can carry, by name, each from one :class:`fewmul.config.Config`.

- ``fewmul``: the multiplier-free ``PEArray`` (``array_rows`` x ``array_cols`` PEs);
- ``baseline``: the ``MultiplierArray`` with the same ports and widths;
- ``systolic``: ``hw.mac_array.SystolicMacArray``, a plain systolic array of multiply-accumulate
  PEs with ``weight_bits`` operands, the multiplier ceiling of a chip (no training logic);
- ``system``: the whole trainer on the UART (``hw.engine.EngineSystem``: host link, engine
  with its memories and sequencer, and one ``PEArray``).
"""

from fewmul.config import Config

__all__ = ["DESIGNS", "FORMAT_FIELDS", "array_config", "format_fields", "format_tag",
           "make_design", "pe_count"]

DESIGNS = ("fewmul", "baseline", "system", "systolic")

#: The number-format fields a build or a sweep may change (the rest: Config's defaults).
FORMAT_FIELDS = ("weight_bits", "act_bits", "err_bits", "err_frac")


def array_config(rows, cols, **fields):
    """The Config of a ``rows`` x ``cols`` array (other fields: Config's defaults)."""
    return Config(array_rows=rows, array_cols=cols, **fields)


def format_fields(**widths):
    """The Config fields of a number format: the ``widths`` given (keys of
    :data:`FORMAT_FIELDS`, ``None`` = default), ``err_frac`` defaulting to
    ``min(default, err_bits - 2)`` when only ``err_bits`` is given, and ``lr_shift`` raised
    when needed so the weight update stays a right shift (``err_frac + lr_shift >=
    weight_bits - 1``). ``{}`` for Config's default format."""
    unknown = set(widths) - set(FORMAT_FIELDS)
    if unknown:
        raise ValueError(f"not a format field: {', '.join(sorted(unknown))}")
    fields = {name: value for name, value in widths.items() if value is not None}
    default = Config()
    if "err_bits" in fields and "err_frac" not in fields:
        fields["err_frac"] = min(default.err_frac, fields["err_bits"] - 2)
    if "weight_bits" in fields or "err_frac" in fields:
        frac = fields.get("err_frac", default.err_frac)
        bits = fields.get("weight_bits", default.weight_bits)
        lr_shift = max(default.lr_shift, bits - 1 - frac)
        if lr_shift != default.lr_shift:
            fields["lr_shift"] = lr_shift
    return fields


def format_tag(cfg):
    """Short name of ``cfg``'s number format, ``""`` for Config's defaults, else e.g.
    ``w8e12f8`` (weight bits, error bits, error fraction bits; ``a<n>`` if ``act_bits``
    differs). Sweeps put it in every key and build directory so formats never mix."""
    default = Config()
    if all(getattr(cfg, name) == getattr(default, name) for name in FORMAT_FIELDS):
        return ""
    tag = f"w{cfg.weight_bits}e{cfg.err_bits}f{cfg.err_frac}"
    return tag + (f"a{cfg.act_bits}" if cfg.act_bits != default.act_bits else "")


def pe_count(cfg):
    return cfg.array_rows * cfg.array_cols


def make_design(design, cfg, *, data_capacity=0, dsp_blocks=None, hard_multiplier="inferred"):
    """The Component for ``design`` (one of :data:`DESIGNS`) with configuration ``cfg``.
    ``data_capacity``: samples of the trainer's on-chip data set (``system`` only);
    ``dsp_blocks``: hard multipliers the ``systolic`` array may use (``None``: all of its PEs),
    the rest multiply in LUTs; ``hard_multiplier``: how they are written (``systolic`` only:
    ``inferred`` ``*`` or the ECP5 ``mult18x18d`` instance with its own registers)."""
    if data_capacity and design != "system":
        raise ValueError(f"a data capacity applies to the system design only, not {design!r}")
    if design == "fewmul":
        from fewmul.hw.array import PEArray
        return PEArray(cfg)
    if design == "baseline":
        from fewmul.hw.baseline import MultiplierArray
        return MultiplierArray(cfg)
    if design == "systolic":
        from fewmul.hw.mac_array import SystolicMacArray
        return SystolicMacArray(rows=cfg.array_rows, cols=cfg.array_cols,
                                operand_bits=cfg.weight_bits, dsp_multipliers=dsp_blocks,
                                hard_multiplier=hard_multiplier)
    if design == "system":
        from fewmul.hw.engine import EngineSystem
        from fewmul.hw.engine_plan import EnginePlan
        EnginePlan(cfg)                 # reject before an EngineSystem exists (never elaborated)
        if isinstance(data_capacity, bool) or not isinstance(data_capacity, int) or (
                data_capacity < 0):
            raise ValueError(f"data_capacity must be an integer >= 0, not {data_capacity!r}")
        # A frame's bytes arrive every 10 bit times; 40 byte times of silence end a frame.
        return EngineSystem(cfg, timeout_cycles=40 * 10 * 2 ** 10, data_capacity=data_capacity)
    raise ValueError(f"unknown design {design!r}; choose one of {', '.join(DESIGNS)}")
