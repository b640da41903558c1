"""ULX3S-85F (LFE5U-85F): 25 MHz oscillator, EHXPLLL to the array clock.

LEDs 0-2: folded design output, heartbeat, PLL locked. Button 0 feeds the harness.
"""

from .top import BoardTop

__all__ = ["CLOCK_MHZ", "top"]

#: Array clock: the ECP5 target.
CLOCK_MHZ = 75


def top(design, *, clock_mhz=CLOCK_MHZ, **options):
    """The board top (:class:`~fewmul.boards.top.BoardTop`; ``options``: its ``simulated``,
    ``baud``)."""
    return BoardTop(design, family="ecp5", clock=("clk25", 0, 25), clock_mhz=clock_mhz,
                    data_pin=("button", 0), leds=[("led", 0), ("led", 1), ("led", 2)],
                    **options)
