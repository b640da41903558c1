"""cocotb module behind ``fewmul bench sim``: how many array clock cycles per second a simulator
runs (per wall second and per CPU second of the simulator process, which hosts
Python too), with Python waking (a) only at the end and (b) twice a cycle with the full scoreboarded
testbench of ``sim/tb_array.py``. Writes its figures as JSON to ``params["out"]``.
"""

import json
import time

import cocotb
from cocotb.triggers import ClockCycles, FallingEdge

from fewmul.sim.runner import testbench_params
from fewmul.sim.tb_array import ArrayTestbench


@cocotb.test()
async def throughput(dut):
    params = testbench_params()
    tb = ArrayTestbench(dut, params)
    await tb.start()
    await tb.run(tb.load_tile(tb.random_tile()))

    # (a) free-running: FORWARD every cycle, results always taken; Python sleeps meanwhile.
    forward = tb.command("FORWARD")
    dut.cmd__payload.value = tb.cmd_codec.pack(forward["packed"])
    dut.result__ready.value = 1
    dut.cmd__valid.value = 1
    cycles = params["free_cycles"]
    started, cpu = time.perf_counter(), time.process_time()
    await ClockCycles(dut.clk, cycles)
    free_seconds = time.perf_counter() - started
    free_cpu = time.process_time() - cpu
    dut.cmd__valid.value = 0
    for _ in range(2 * tb.cfg.array_rows + 20):        # drain the FIFO
        await FallingEdge(dut.clk)
    tb.monitor.ready = None

    # (b) the scoreboarded random mix (idle gaps and back-pressure included).
    tb.cycle = 0
    started, cpu = time.perf_counter(), time.process_time()
    await tb.run(tb.random_program(params["checked_commands"]))
    checked_seconds = time.perf_counter() - started
    checked_cpu = time.process_time() - cpu
    tb.check()
    result = {
        "free_running": {"cycles": cycles, "seconds": free_seconds, "cpu_seconds": free_cpu,
                         "cycles_per_second": cycles / free_seconds,
                         "cycles_per_cpu_second": cycles / free_cpu},
        "checked": {"cycles": tb.cycle, "commands": params["checked_commands"],
                    "seconds": checked_seconds, "cpu_seconds": checked_cpu,
                    "cycles_per_second": tb.cycle / checked_seconds,
                    "cycles_per_cpu_second": tb.cycle / checked_cpu,
                    "commands_per_cpu_second": params["checked_commands"] / checked_cpu},
    }
    with open(params["out"], "w") as f:
        json.dump(result, f)
