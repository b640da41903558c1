"""Amaranth designs of fewmul; one block per module, each an ``amaranth.lib.wiring.Component``."""
