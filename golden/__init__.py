"""Bit-exact numpy model of the fewmul datapath (``docs/datapath.md``).

Plain numpy with explicit integer dtypes, one operation per module, each working on whole
transactions (a vector or a matrix per call). The RTL in ``fewmul.hw`` must match it bit for bit.
"""
