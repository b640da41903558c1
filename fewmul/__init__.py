"""fewmul: multiplier-free on-chip neural-network training for FPGAs.

Sub-packages: ``fewmul.hw`` (Amaranth designs), ``fewmul.golden`` (bit-exact numpy model),
``fewmul.sim`` (cocotb testbenches and runners), ``fewmul.boards`` (board targets and synthesis).
The shared configuration object is :class:`fewmul.config.Config`.
"""

__version__ = "0.1.0"
