"""TEMPORARY stand-in for ``hw/array.py`` until it lands (deleted then). Not a design."""

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out


class PEArray(wiring.Component):
    def __init__(self, cfg):
        self._cfg = cfg
        rows, cols = cfg.array_rows, cfg.array_cols
        super().__init__({
            "x": In(signed(cfg.act_bits)).array(cols),
            "shift": In(range(cfg.max_shift + 1)).array(cols),
            "delta": In(signed(cfg.err_bits)).array(rows),
            "update": In(1),
            "acc": Out(signed(cfg.acc_bits(cols))).array(rows),
        })

    def elaborate(self, platform):
        cfg = self._cfg
        m = Module()
        for i in range(self._cfg.array_rows):
            partial = 0
            for j in range(self._cfg.array_cols):
                w = Signal(signed(cfg.weight_bits), name=f"w_{i}_{j}")
                s = Signal(signed(cfg.acc_bits(cfg.array_cols)), name=f"p_{i}_{j}")
                m.d.sync += s.eq(partial + Mux(w[-1], -self.x[j], self.x[j]))
                partial = s
                with m.If(self.update):
                    m.d.sync += w.eq(w + (self.delta[i] >> self.shift[j]))
            m.d.comb += self.acc[i].eq(partial)
        return m
