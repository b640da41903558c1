"""What the synthesis sweep builds: devices with their clock targets, array shapes, designs."""

__all__ = ["DEVICES", "SHAPES", "QUICK", "DESIGNS", "MULTIPLIER_DESIGNS", "DESIGN_SHAPES",
           "COMMAND", "shapes_for"]


DEVICES = {
    "ice40up5k": {"board": "icebreaker", "clock_mhz": 24},
    "ecp5-85f": {"board": "ulx3s-85f", "clock_mhz": 75},
}

#: Array shapes in order of PE count (rows x cols), per device. Tall shapes first: a column
#: costs a column unit (quantizer, update step with its barrel shifter, saturating adder) and a
#: column adder tree, a row only a row tree, so R >= C packs more PEs into the same chip.
SHAPES = {
    "ice40up5k": [(1, 2), (2, 2), (2, 4), (3, 4), (4, 4), (6, 4), (8, 4), (10, 4), (12, 4), (16, 4),
                  (12, 8), (16, 8)],
    "ecp5-85f": [(4, 4), (8, 8), (16, 8), (16, 16), (24, 16), (32, 16), (32, 24), (32, 32),
                 (48, 32), (64, 32), (64, 48), (64, 64)],
}


QUICK = {"ice40up5k": [(2, 2), (4, 4)], "ecp5-85f": [(4, 4), (8, 8)]}


DESIGNS = ("fewmul", "baseline", "systolic")

#: The multiplier designs: the training baseline (``hw.baseline.MultiplierArray``) and the
#: plain systolic MAC array (``hw.mac_array``, the chip's multiplier ceiling). fewmul is compared
#: with the best of them.
MULTIPLIER_DESIGNS = ("baseline", "systolic")

#: Shapes of a design that differ from its device's :data:`SHAPES`: the systolic array's PEs are
#: hard multipliers up to the chip's count (156 MULT18X18D, 8 SB_MAC16), LUT multipliers beyond.
DESIGN_SHAPES = {
    ("ecp5-85f", "systolic"): [(4, 4), (8, 8), (16, 8), (12, 13), (16, 16)],
    ("ice40up5k", "systolic"): [(2, 2), (2, 4), (3, 4), (4, 4)],
}


COMMAND = "fewmul bench synth --json build/bench-synth.json"


def shapes_for(device, design, quick=False):
    """The shapes the sweep tries for ``design`` on ``device`` (``quick``: two small ones)."""
    if quick:
        return QUICK[device]
    return DESIGN_SHAPES.get((device, design), SHAPES[device])
