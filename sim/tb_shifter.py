"""cocotb testbench: ``fewmul.hw.shifter.Shifter`` against ``fewmul.golden.shifter``.

Directed corners (zero, -1, most negative and most positive values at every shift, shifts above
``max_shift``) then seeded random stimulus, compared bit for bit in batches.
"""

import cocotb
import numpy as np
from cocotb.triggers import Timer

from fewmul.golden.shifter import shift_right
from fewmul.sim.runner import testbench_params, volume


class ShifterTestbench:
    """Drives ``value``/``shift``, samples ``whole``/``fraction``, scores against the model."""

    def __init__(self, dut, params):
        self.dut = dut
        self.width = params["width"]
        self.max_shift = params["max_shift"]
        self.frac_bits = params["frac_bits"]
        self.shift_port_max = (1 << max(1, self.max_shift.bit_length())) - 1
        self.checked = 0
        self.mismatches = []

    async def apply(self, values, shifts):
        whole, fraction = shift_right(values, shifts, self.frac_bits, self.max_shift)
        for value, shift, want_whole, want_fraction in zip(values, shifts, whole, fraction,
                                                           strict=True):
            self.dut.value.value = int(value)
            self.dut.shift.value = int(shift)
            await Timer(1, unit="ns")
            got_whole = self.dut.whole.value.to_signed()
            got_fraction = self.dut.fraction.value.to_unsigned() if self.frac_bits else 0
            self.checked += 1
            if (got_whole, got_fraction) != (want_whole, want_fraction):
                self.mismatches.append((int(value), int(shift), (got_whole, got_fraction),
                                        (int(want_whole), int(want_fraction))))

    def corners(self):
        lo, hi = -(1 << (self.width - 1)), (1 << (self.width - 1)) - 1
        values = [0, 1, -1, lo, hi, lo + 1, hi - 1]
        shifts = range(self.shift_port_max + 1)          # includes shifts above max_shift
        pairs = [(v, s) for v in values for s in shifts]
        return np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])

    def random(self, rng, n):
        lo, hi = -(1 << (self.width - 1)), (1 << (self.width - 1))
        return rng.integers(lo, hi, n), rng.integers(0, self.shift_port_max + 1, n)

    def check(self):
        assert not self.mismatches, (
            f"{len(self.mismatches)} of {self.checked} mismatches; first (value, shift, "
            f"got, want): {self.mismatches[:5]}")


@cocotb.test()
async def corners(dut):
    tb = ShifterTestbench(dut, testbench_params())
    await tb.apply(*tb.corners())
    tb.check()


@cocotb.test()
async def random_values(dut):
    params = testbench_params()
    tb = ShifterTestbench(dut, params)
    rng = np.random.default_rng(params["seed"])
    await tb.apply(*tb.random(rng, int(params["transactions"] * volume())))
    tb.check()
    dut._log.info("shifter: %d transactions, 0 mismatches", tb.checked)
