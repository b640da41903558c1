"""cocotb testbench: the multiplier baseline ``fewmul.hw.baseline.MultiplierArray`` against its
numpy twin ``fewmul.golden.baseline.reference``, bit for bit.

The baseline has the fewmul array's ports and command set, so this is ``sim/tb_array.py``'s
driver (random idle gaps), result monitor (random back-pressure), stimulus and scoreboard with
the model swapped. The baseline ignores the sampling draws ``u``, ``v``, ``q`` and
``deterministic`` and has no ``clips`` output; its products are real multiplies, so the corner
program's rails (most negative ``x``, ``δ`` and weights, all-ones draws, both ends of the
learning-rate range) exercise its widths and saturation.
"""

import cocotb
import numpy as np

from fewmul.golden.baseline import reference
from fewmul.hw.array import Op
from fewmul.sim.runner import testbench_params
from fewmul.sim.tb_array import ArrayTestbench, run_corners, run_random_mix, run_training_steps

_RESULT_FIELD = {Op.FORWARD: "acc", Op.BACKWARD: "grad", Op.READ: "weights"}


class BaselineModel:
    """:func:`fewmul.golden.baseline.reference` one command at a time, with the
    ``fewmul.golden.array.ArrayModel.execute`` interface the scoreboard replays."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.weights = np.zeros((cfg.array_rows, cfg.array_cols), dtype=np.int64)

    def execute(self, command):
        op = Op[command["op"]]
        results, self.weights = reference(self.cfg, self.weights, [{**command, "op": op}])
        if not results:
            return None
        (_, value), = results
        return {"op": command["op"], _RESULT_FIELD[op]: value}


class BaselineTestbench(ArrayTestbench):
    name = "baseline"
    counts_clips = False

    def make_model(self):
        return BaselineModel(self.cfg)


@cocotb.test()
async def corners(dut):
    await run_corners(BaselineTestbench(dut, testbench_params()))


@cocotb.test()
async def training_steps(dut):
    params = testbench_params()
    await run_training_steps(BaselineTestbench(dut, params), params["transactions"])


@cocotb.test()
async def random_mix(dut):
    params = testbench_params()
    await run_random_mix(BaselineTestbench(dut, params), params["transactions"])
