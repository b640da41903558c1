"""iCEBreaker (iCE40UP5K-SG48): 12 MHz oscillator on a PLL pin, SB_PLL40_PAD to the array clock.

LEDs: red = folded design output, green = heartbeat. The user button
feeds the harness's serial input.
"""

from .top import BoardTop

__all__ = ["CLOCK_MHZ", "top"]

#: Array clock: the iCE40 target (>= 24 MHz with the UART link).
CLOCK_MHZ = 24


def top(design, *, clock_mhz=CLOCK_MHZ, **options):
    """The board top (:class:`~fewmul.boards.top.BoardTop`; ``options``: its ``simulated``,
    ``baud``)."""
    return BoardTop(design, family="ice40", clock=("clk12", 0, 12), clock_mhz=clock_mhz,
                    data_pin=("button", 0), leds=[("led", 0), ("led", 1)],
                    **options)
