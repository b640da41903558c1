"""The streaming engine's weights and biases, and the host's word access to them.

``ParameterStore(cfg)`` holds two memories (``lib.memory``; layouts of
``fewmul.hw.engine_plan.EnginePlan``):

- **weight tiles**: one word = one ``K x K`` tile, ``K^2`` weights (lane ``r K + c`` holds
  ``w[tr K + r, tc K + c]``); tile ``(tr, tc)`` of layer ``l`` at ``tile_base[l] + tr TC + tc``.
  Yosys splits the wide word over as many block RAMs as its width needs: the ``K^2`` weights of a
  tile are read in one cycle (the banks of ``docs/engine.md``) and written back in one;
- **biases**: one word = ``K`` biases, those of outputs ``tr K .. tr K + K - 1`` of layer ``l``
  at ``vec_base[l + 1] + tr``.

The engine's side (:attr:`tile_read`, :attr:`tile_write`, :attr:`bias_read`,
:attr:`bias_write`) is used while a command runs; the host's side (``mem``, the link's memory
port, regions of ``fewmul.protocol.memory_map(cfg, region_words)``: a layer's weights
``w[i, j]`` at ``(i - row) N_l + j`` of the region that starts at row ``row``, then its biases)
only while the engine is idle (``host_allowed``): the link issues LOAD/READ only between
engine commands. Padding weights (``i >= M_l`` or ``j >= N_l``) are never written by the host
and stay 0.

A host address ``(i - row) N + j`` becomes (tile word, lane) without a divider: the store
remembers the row ``i - row`` of the last access and steps one row (``N`` addresses; a new row
tile every ``K`` rows) per cycle, from the region's first row again when the address lies before
it or the region changes, so sequential access costs a few cycles per word. A region starts on a
row tile (``fewmul.protocol.region_rows``: ``row`` is a multiple of ``K``), so the lane is
``((i - row) % K) K + j % K`` and a region needs only its first tile word.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data, memory, wiring
from amaranth.lib.wiring import In, Out

from fewmul.protocol import MAX_REGION_WORDS, memory_map

from ._checks import ConfigComponent, check_config, refusable
from .const_table import const_table
from .engine_plan import EnginePlan
from .link import MemoryPortSignature

__all__ = ["ParameterStore", "parameter_ports"]


def _port(shape, depth, *, write):
    """A synchronous read port or a write port, seen from its client (``addr``, ``en`` out;
    ``data`` in for a read, out for a write)."""
    members = {"addr": Out(range(max(depth, 2))), "en": Out(1)}
    members["data"] = Out(shape) if write else In(shape)
    return wiring.Signature(members)


def parameter_ports(cfg, plan):
    """The store's engine side: ``tile_read``, ``tile_write``, ``bias_read``, ``bias_write``
    (members of the store; a client takes them flipped)."""
    tile = data.ArrayLayout(signed(cfg.weight_bits), plan.lanes ** 2)
    biases = data.ArrayLayout(signed(cfg.weight_bits), plan.lanes)
    return {
        "tile_read": In(_port(tile, plan.tiles, write=False)),
        "tile_write": In(_port(tile, plan.tiles, write=True)),
        "bias_read": In(_port(biases, plan.vec_depth, write=False)),
        "bias_write": In(_port(biases, plan.vec_depth, write=True)),
    }


class ParameterStore(ConfigComponent):
    """Weight tiles and biases with an engine side and a host side (module docstring).

    Ports
    -----
    tile_read : In({addr, en, data: Out}) ; tile_write : In({addr, en, data})
        One tile word, ``ArrayLayout(signed(weight_bits), K * K)``; reads take one cycle.
    bias_read : In({addr, en, data: Out}) ; bias_write : In({addr, en, data})
        One word of ``K`` biases.
    mem : In(fewmul.hw.link.MemoryPortSignature(word_bits=weight_bits, n_regions=len(regions)))
        The link's word access (served only while ``host_allowed``), ``regions`` of
        ``fewmul.protocol.memory_map(cfg, region_words)``.
    host_allowed : In(1)
        The engine is idle.
    """

    @refusable
    def __init__(self, cfg, *, region_words=MAX_REGION_WORDS):
        self._plan = EnginePlan(cfg)
        self._regions = tuple(memory_map(check_config(cfg), region_words))
        super().__init__(cfg)

    def members(self, cfg):
        return {
            **parameter_ports(cfg, self._plan),
            "mem": In(MemoryPortSignature(word_bits=cfg.weight_bits,
                                          n_regions=len(self._regions))),
            "host_allowed": In(1),
        }

    @property
    def plan(self):
        return self._plan

    @property
    def regions(self):
        """The host side's regions (``fewmul.protocol.Region``)."""
        return self._regions

    def elaborate(self, platform):
        cfg, plan = self._cfg, self._plan
        m = Module()
        K, wb = plan.lanes, cfg.weight_bits
        k_log = K.bit_length() - 1
        tiles = memory.Memory(shape=self.tile_read.data.shape(), depth=max(plan.tiles, 2),
                              init=[])
        biases = memory.Memory(shape=self.bias_read.data.shape(), depth=max(plan.vec_depth, 2),
                               init=[])
        m.submodules.tiles, m.submodules.biases = tiles, biases
        t_rd, t_wr = tiles.read_port(), tiles.write_port(granularity=1)
        b_rd, b_wr = biases.read_port(), biases.write_port(granularity=1)

        # -- the host's word access ------------------------------------------------------------
        bus, c = self.mem, self.mem.cmd.payload
        t_n, t_tc = const_table(plan.n), const_table(plan.tc)
        t_bias_base = const_table(plan.vec_base[1:])
        regions = self._regions                               # per region: layer, kind and
        r_layer = const_table(r.layer for r in regions)       # first tile word
        r_bias = const_table(int(r.bias) for r in regions)
        r_word = const_table(plan.tile_base[r.layer] + r.row // K * plan.tc[r.layer]
                             for r in regions)
        write = Signal()
        layer = Signal(range(cfg.n_layers + 1))
        address = Signal(16)
        data_word = Signal(wb)
        row_region = Signal(range(len(regions) + 1), init=len(regions))   # none yet
        row = Signal(range(max(plan.m) + 1))                  # i - the region's first row
        row_start = Signal(17)                                # (i - row) * N
        row_word = Signal(range(plan.tiles + 1))              # tile_base + (i // K) * TC
        j = Signal(17)
        m.d.comb += j.eq(address - row_start)
        n_here = t_n[layer]
        lane = Signal(range(K * K))
        if k_log:
            m.d.comb += lane.eq(Cat(j[:k_log], row[:k_log]))      # (i % K) K + j % K
        host_word = Signal(range(plan.tiles + 1))
        m.d.comb += host_word.eq(row_word + (j >> k_log))
        bias_word = Signal(range(plan.vec_depth + 1))
        m.d.comb += bias_word.eq(t_bias_base[layer] + (address >> k_log))
        bias_lane = address[:k_log] if k_log else Const(0, 1)
        is_bias = Signal()
        read_group = Signal(K * wb)                           # the row's K weights / K biases
        read_value = Signal(wb)
        host_write = Signal()                                 # the ACCESS cycle of a write

        with m.FSM(name="host"):
            with m.State("IDLE"):
                m.d.comb += bus.cmd.ready.eq(self.host_allowed)
                with m.If(bus.cmd.valid & self.host_allowed):
                    m.d.sync += [write.eq(c.write), layer.eq(r_layer[c.region]),
                                 address.eq(c.address), data_word.eq(c.data),
                                 is_bias.eq(r_bias[c.region])]
                    with m.If(r_bias[c.region]):
                        m.next = "ACCESS"
                    with m.Else():
                        with m.If((row_region != c.region) | (c.address < row_start)):
                            m.d.sync += [row_region.eq(c.region), row.eq(0),
                                         row_start.eq(0), row_word.eq(r_word[c.region])]
                        m.next = "FIND_ROW"
            with m.State("FIND_ROW"):
                with m.If(j >= n_here):
                    m.d.sync += [row.eq(row + 1), row_start.eq(row_start + n_here)]
                    if k_log:
                        with m.If(row[:k_log] == K - 1):
                            m.d.sync += row_word.eq(row_word + t_tc[layer])
                    else:
                        m.d.sync += row_word.eq(row_word + t_tc[layer])
                with m.Else():
                    m.next = "ACCESS"
            with m.State("ACCESS"):
                m.d.comb += host_write.eq(write)
                with m.If(write):
                    m.next = "IDLE"
                with m.Else():
                    m.next = "READ_DATA"
            with m.State("READ_DATA"):
                # two mux levels, each behind a register: the block RAMs' clock-to-output
                # leaves too little of a 75 MHz cycle for a K^2 : 1 mux (the ULX3S's
                # critical path at 59 MHz had this select in one cycle)
                tile_row = (t_rd.data.as_value().word_select(row[:k_log], K * wb) if k_log
                            else t_rd.data.as_value())
                m.d.sync += read_group.eq(Mux(is_bias, b_rd.data.as_value(), tile_row))
                m.next = "READ_LANE"
            with m.State("READ_LANE"):
                group_lane = Mux(is_bias, bias_lane, j[:k_log]) if k_log else 0
                m.d.sync += read_value.eq(read_group.word_select(group_lane, wb))
                m.next = "RESPOND"
            with m.State("RESPOND"):
                m.d.comb += [bus.rdata.valid.eq(1), bus.rdata.payload.eq(read_value)]
                with m.If(bus.rdata.ready):
                    m.next = "IDLE"

        # the host's access while the engine is idle, else the engine's
        with m.If(self.host_allowed):
            m.d.comb += [
                t_rd.addr.eq(host_word), t_rd.en.eq(1),
                b_rd.addr.eq(bias_word), b_rd.en.eq(1),
                t_wr.addr.eq(host_word),
                t_wr.data.eq(data_word.replicate(K * K)),
                t_wr.en.eq(Mux(host_write & ~is_bias, (Const(1, K * K) << lane)[:K * K], 0)),
                b_wr.addr.eq(bias_word),
                b_wr.data.eq(data_word.replicate(K)),
                b_wr.en.eq(Mux(host_write & is_bias, (Const(1, K) << bias_lane)[:K], 0)),
            ]
        with m.Else():
            m.d.comb += [
                t_rd.addr.eq(self.tile_read.addr), t_rd.en.eq(self.tile_read.en),
                t_wr.addr.eq(self.tile_write.addr), t_wr.data.eq(self.tile_write.data),
                t_wr.en.eq(self.tile_write.en.replicate(K * K)),
                b_rd.addr.eq(self.bias_read.addr), b_rd.en.eq(self.bias_read.en),
                b_wr.addr.eq(self.bias_write.addr), b_wr.data.eq(self.bias_write.data),
                b_wr.en.eq(self.bias_write.en.replicate(K)),
            ]
        m.d.comb += [self.tile_read.data.eq(t_rd.data), self.bias_read.data.eq(b_rd.data)]
        return m
