"""OrangeCrab r0.2 85F (LFE5U-85F): 48 MHz oscillator, EHXPLLL to the array clock.

RGB LED: red = folded design output, green = heartbeat, blue = PLL locked.

amaranth-boards appends a ``dfu-suffix`` step (Debian ``dfu-util``) to the build; it only tags
the bitstream for the DFU bootloader, so :class:`OrangeCrab85FPlatform` leaves it out and a
build needs nothing beyond YoWASP. Run ``dfu-suffix -v 1209 -p 5af0 -a top.bit`` before
``dfu-util`` when programming through the bootloader.
"""

from amaranth.vendor import LatticeECP5Platform
from amaranth_boards.orangecrab_r0_2 import OrangeCrabR0_2_85FPlatform

from .top import BoardTop

__all__ = ["CLOCK_MHZ", "OrangeCrab85FPlatform", "top"]

CLOCK_MHZ = 75


class OrangeCrab85FPlatform(OrangeCrabR0_2_85FPlatform):
    @property
    def required_tools(self):
        return LatticeECP5Platform.required_tools.fget(self)

    @property
    def command_templates(self):
        return LatticeECP5Platform.command_templates.fget(self)


def top(design, *, clock_mhz=CLOCK_MHZ, **options):
    """The board top (:class:`~fewmul.boards.top.BoardTop`; ``options``: its ``simulated``,
    ``baud``)."""
    return BoardTop(design, family="ecp5", clock=("clk", 0, 48), clock_mhz=clock_mhz,
                    data_pin=("button", 0),
                    leds=[("rgb_led", 0, "r"), ("rgb_led", 0, "g"), ("rgb_led", 0, "b")],
                    **options)
