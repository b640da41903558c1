# amaranth: UnusedElaboratable=no
"""UART: parameter checks, then loopback and framing errors on both simulators."""

import pytest
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import Out

from fewmul.hw.uart import UART, UARTRx, UARTTx
from fewmul.sim.runner import run_testbench

from .conftest import SIMULATORS

DIVISORS = (4, 5, 13)


class UARTBank(wiring.Component):
    """One ``UART`` per divisor, exposed as ``u0``, ``u1``...: one build covers every baud rate."""

    def __init__(self, divisors):
        self._uarts = [UART(divisor=d) for d in divisors]
        super().__init__({f"u{k}": Out(u.signature) for k, u in enumerate(self._uarts)})

    def elaborate(self, platform):
        m = Module()
        for k, uart in enumerate(self._uarts):
            m.submodules[f"uart{k}"] = uart
            wiring.connect(m, wiring.flipped(getattr(self, f"u{k}")), uart)
        return m


@pytest.mark.parametrize("cls", [UARTTx, UARTRx, UART])
@pytest.mark.parametrize("divisor", [3, 2.5, True, 2**24 + 1])
def test_rejects_bad_divisor(cls, divisor):
    with pytest.raises(ValueError) as info:
        cls(divisor=divisor)
    assert str(info.value) == (f"divisor must be an integer in [4, 16777216] clocks per bit, "
                               f"not {divisor!r}")


def test_properties():
    assert UARTTx(divisor=434).clocks_per_byte == 4340
    assert UART(divisor=7).divisor == UARTRx(divisor=7).divisor == 7


@pytest.mark.sim
@pytest.mark.parametrize("simulator", SIMULATORS)
def test_uart_rtl(simulator, build_dir, verilator_fast_build):
    params = dict(divisors=list(DIVISORS), seed=2015, bytes=96)
    result = run_testbench(UARTBank(DIVISORS), toplevel="uart_bank",
                           test_module="fewmul.sim.tb_uart", simulator=simulator,
                           build_dir=build_dir, params=params)
    assert result.tests == 2 and result.failed == 0
