"""Colorlight 5A-75B v7.0 (LFE5U-25F): 25 MHz oscillator, EHXPLLL to the array clock.

Its one LED shows the folded design output; button 0 feeds the harness.
"""

from .top import BoardTop

__all__ = ["CLOCK_MHZ", "top"]

CLOCK_MHZ = 75


def top(design, *, clock_mhz=CLOCK_MHZ, **options):
    """The board top (:class:`~fewmul.boards.top.BoardTop`; ``options``: its ``simulated``,
    ``baud``)."""
    return BoardTop(design, family="ecp5", clock=("clk25", 0, 25), clock_mhz=clock_mhz,
                    data_pin=("button", 0), leds=[("led", 0)],
                    **options)
