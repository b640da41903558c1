"""Board clocks: a PLL from the board oscillator to the array clock, as the ``sync`` domain.

:func:`ice40_pll_params` and :func:`ecp5_pll_params` search the dividers the same way
``yowasp-icepll`` and ``yowasp-ecppll`` do (closest output frequency with the VCO and phase
detector in range), in Python so a build needs no extra tool run. :class:`PLLClock` instantiates
``SB_PLL40_PAD`` (iCE40) or ``EHXPLLL`` (ECP5) and holds ``sync`` in reset until the PLL locks;
nextpnr derives the output clock's constraint from the oscillator's, so it times the array at
the PLL frequency. Families without
a PLL here (Gowin) run ``sync`` straight from the oscillator.

``simulated=True`` stands in for the PLL in a simulation (the virtual board,
``fewmul.sim.virtual_board``): ``clk`` is the board clock pin itself, which the simulation
toggles at whatever rate it likes, so ``target_mhz`` is nominal (no divider search) and ``lock``
is high from the start.
"""

from dataclasses import dataclass

from amaranth.hdl import Const, Elaboratable, Instance, Module, Signal
from amaranth.lib import io

__all__ = ["PLLParams", "ice40_pll_params", "ecp5_pll_params", "PLLClock"]


@dataclass(frozen=True)
class PLLParams:
    input_mhz: float
    output_mhz: float           # what the dividers really give, not what was asked
    params: dict                # Instance parameters (without the p_ prefix)


def ice40_pll_params(input_mhz, target_mhz):
    """``SB_PLL40`` simple-feedback dividers (iCE40 LP/HX/UP datasheet ranges), within 1 %."""
    best = None
    for divr in range(16):
        pfd = input_mhz / (divr + 1)
        if not 10 <= pfd <= 133:
            continue
        for divf in range(128):
            vco = pfd * (divf + 1)
            if not 533 <= vco <= 1066:
                continue
            for divq in range(1, 7):
                out = vco / (1 << divq)
                error = abs(out - target_mhz)
                if best is None or error < best[0] - 1e-9:
                    best = (error, divr, divf, divq, pfd, out)
    if best is None or best[0] > 0.01 * target_mhz:
        raise ValueError(f"no iCE40 PLL setting for {input_mhz!r} MHz in, {target_mhz!r} MHz out "
                         f"within 1 %")
    _, divr, divf, divq, pfd, out = best
    filter_range = next(i for i, hi in enumerate((17, 26, 44, 66, 101, 1e9), 1) if pfd < hi)
    return PLLParams(input_mhz, out, dict(FEEDBACK_PATH="SIMPLE", DIVR=divr, DIVF=divf,
                                          DIVQ=divq, FILTER_RANGE=filter_range))


def ecp5_pll_params(input_mhz, target_mhz):
    """``EHXPLLL`` dividers with CLKOP feedback (ECP5 datasheet: VCO 400-800 MHz)."""
    best = None
    for clki_div in range(1, 129):
        pfd = input_mhz / clki_div
        if not 3.125 <= pfd <= 400:
            continue
        for clkfb_div in range(1, 81):
            out = pfd * clkfb_div
            if not 3.125 <= out <= 400:
                continue
            for clkop_div in range(1, 129):
                vco = out * clkop_div
                if not 400 <= vco <= 800:
                    continue
                error = abs(out - target_mhz)
                if best is None or error < best[0] - 1e-9:
                    best = (error, clki_div, clkfb_div, clkop_div, out)
                break                                    # the first in-range VCO is enough
    if best is None or best[0] > 0.01 * target_mhz:
        raise ValueError(f"no ECP5 PLL setting for {input_mhz!r} MHz in, {target_mhz!r} MHz out "
                         f"within 1 %")
    _, clki_div, clkfb_div, clkop_div, out = best
    return PLLParams(input_mhz, out, dict(
        CLKI_DIV=clki_div, CLKFB_DIV=clkfb_div, CLKOP_DIV=clkop_div,
        CLKOP_CPHASE=clkop_div - 1, CLKOP_FPHASE=0, CLKOP_ENABLE="ENABLED",
        FEEDBK_PATH="CLKOP", OUTDIVIDER_MUXA="DIVA", PLLRST_ENA="DISABLED",
        INTFB_WAKE="DISABLED", STDBY_ENABLE="DISABLED", DPHASE_SOURCE="DISABLED"))


class PLLClock(Elaboratable):
    """A ``target_mhz`` clock ``clk`` from the board clock ``resource``, and the PLL's ``lock``.

    ``family`` is ``ice40``, ``ecp5`` or anything else (no PLL: ``clk`` is the board clock and
    ``lock`` is high). The enclosing top defines the ``sync`` domain on ``clk`` (Amaranth 0.6
    wants a domain defined where it is used) and holds it in reset until ``lock``.
    ``simulated``: no PLL primitive; ``clk`` is the board clock pin, taken to run at
    ``target_mhz``.
    """

    def __init__(self, *, family, resource, input_mhz, target_mhz, simulated=False):
        self.family = family
        self.resource = resource
        self.input_mhz = input_mhz
        self.simulated = simulated
        if simulated:
            self.pll = PLLParams(input_mhz, target_mhz, {})
        elif family == "ice40":
            self.pll = ice40_pll_params(input_mhz, target_mhz)
        elif family == "ecp5":
            self.pll = ecp5_pll_params(input_mhz, target_mhz)
        else:
            self.pll = PLLParams(input_mhz, input_mhz, {})
        self.clk = Signal()
        self.lock = Signal()

    @property
    def output_mhz(self):
        return self.pll.output_mhz

    def elaborate(self, platform):
        m = Module()
        pin = platform.request(*self.resource, dir="-")
        lock, clk = self.lock, self.clk
        family = None if self.simulated else self.family
        if family == "ice40":
            # SB_PLL40_PAD takes the pad itself: the board clock must be on a PLL-capable pin.
            m.submodules.pll = Instance(
                "SB_PLL40_PAD", **{f"p_{k}": v for k, v in self.pll.params.items()},
                i_PACKAGEPIN=pin.io, i_RESETB=Const(1), i_BYPASS=Const(0),
                o_PLLOUTGLOBAL=clk, o_LOCK=lock)
        else:
            m.submodules.clk_buffer = clk_buffer = io.Buffer("i", pin)
            if family == "ecp5":
                clkop = Signal()
                m.submodules.pll = Instance(
                    "EHXPLLL", **{f"p_{k}": v for k, v in self.pll.params.items()},
                    a_FREQUENCY_PIN_CLKI=str(self.input_mhz),
                    a_FREQUENCY_PIN_CLKOP=f"{self.pll.output_mhz:.6f}",
                    a_ICP_CURRENT="12", a_LPF_RESISTOR="8", a_MFG_ENABLE_FILTEROPAMP="1",
                    a_MFG_GMCREF_SEL="2",
                    i_CLKI=clk_buffer.i, i_CLKFB=clkop, i_RST=Const(0), i_STDBY=Const(0),
                    i_PHASESEL0=Const(0), i_PHASESEL1=Const(0), i_PHASEDIR=Const(0),
                    i_PHASESTEP=Const(0), i_PHASELOADREG=Const(0), i_PLLWAKESYNC=Const(0),
                    i_ENCLKOP=Const(0), o_CLKOP=clkop, o_LOCK=lock)
                m.d.comb += clk.eq(clkop)
            else:
                m.d.comb += [clk.eq(clk_buffer.i), lock.eq(1)]
        # No explicit constraint: nextpnr derives the PLL output's from the oscillator pin's.
        return m
