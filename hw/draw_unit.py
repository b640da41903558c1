"""The step's random draws, generated one step ahead (``docs/datapath.md`` section 6).

``DrawUnit(cfg)`` owns the five xorshift32 streams (:class:`~fewmul.hw.rng.Xorshift32`) and
the five draw memories of the streaming engine, double-buffered: while the engine computes a
step from one bank, the unit writes the next step's draws into the other, so drawing costs the
engine no cycles once it has started. Draws depend on nothing but the streams, so drawing ahead
is invisible to the host: a TRAIN uses exactly the draws ``train_step`` would (SEED and RESET
discard what was drawn ahead; PREDICT draws nothing).

Per layer ``l``, for ``j = 0 .. max(N_l, M_l) - 1`` (one cycle each, the golden order), the
column streams (``COL_SAMPLE``, ``QUANT``, ``COL_ROUND``) write ``u, q, u'[j]`` while
``j < N_l`` into lane ``j % K`` of word ``vec_base[l] + j // K``, and the row streams
(``ROW_SAMPLE``, ``ROW_ROUND``) write ``v, v'[j]`` while ``j < M_l`` into word
``vec_base[l + 1] + j // K`` (``fewmul.hw.engine_plan.EnginePlan``): a step takes
:attr:`DrawUnit.step_cycles` cycles.

Ports
-----
seed_load : In(1), seed : In(32 * 5)
    Load the five states (``COL_SAMPLE`` in the low 32 bits); drawing of the first step starts.
clear : In(1)
    Forget the seed and what was drawn (RESET).
ready : Out(1)
    A whole step's draws wait in the bank not being read.
take : In(1)
    A step starts (only while ``ready``): its bank becomes the one read, and the next step's
    draws start in the other.
col_addr, row_addr, post_addr : In(range(vec_depth))
    Word addresses of the bank being read; data one cycle later (synchronous reads):
col : Out({u, q, u2}), row : Out({v, v2}), post_v2 : Out(K lanes)
"""

from amaranth.hdl import Array, Cat, Const, Module, Signal
from amaranth.lib import data, memory
from amaranth.lib.wiring import In, Out

from ._checks import ConfigComponent
from .engine_plan import EnginePlan
from .rng import Xorshift32

__all__ = ["DrawUnit", "STREAMS", "draw_ports"]

#: Stream order of SEED and of ``docs/datapath.md`` section 6.
STREAMS = ("u", "v", "q", "u2", "v2")
_COLUMN = ("u", "q", "u2")
_ROW = ("v", "v2")


def _table(values):
    values = list(values)
    return Array(Const(v, max(1, max(values).bit_length())) for v in values)


def draw_ports(cfg, plan):
    """The members of :class:`DrawUnit` its reader uses (``ready`` .. ``post_v2``; a reader
    takes them flipped)."""
    lanes = data.ArrayLayout(cfg.rand_bits, plan.lanes)
    depth = range(max(plan.vec_depth, 2))
    return {
        "ready": Out(1),
        "take": In(1),
        "col_addr": In(depth),
        "row_addr": In(depth),
        "post_addr": In(depth),
        "col": Out(data.StructLayout({name: lanes for name in _COLUMN})),
        "row": Out(data.StructLayout({name: lanes for name in _ROW})),
        "post_v2": Out(lanes),
    }


class DrawUnit(ConfigComponent):
    """Five streams and their double-buffered draw memories (see the module docstring)."""

    def __init__(self, cfg):
        self._plan = EnginePlan(cfg)
        super().__init__(cfg)

    def members(self, cfg):
        return {
            "seed_load": In(1),
            "seed": In(32 * len(STREAMS)),
            "clear": In(1),
            **draw_ports(cfg, self._plan),
        }

    @property
    def step_cycles(self):
        """Cycles to draw one step: ``sum max(N_l, M_l)``."""
        cfg = self._cfg
        return sum(max(n, m) for n, m in zip(cfg.layers[:-1], cfg.layers[1:], strict=True))

    def elaborate(self, platform):
        cfg, plan = self._cfg, self._plan
        m = Module()
        K, depth, bits = plan.lanes, plan.vec_depth, cfg.rand_bits
        k_log = K.bit_length() - 1

        read_bank = Signal()                     # the bank the engine reads
        drawing = Signal()                       # the other bank is being filled
        full = Signal()                          # the other bank holds a whole step
        layer = Signal(range(cfg.n_layers + 1))
        j = Signal(range(max(max(cfg.layers[:-1]), max(cfg.layers[1:])) + 1))
        t_n, t_m = _table(cfg.layers[:-1]), _table(cfg.layers[1:])
        t_len = _table(max(n, mm) for n, mm in zip(cfg.layers[:-1], cfg.layers[1:],
                                                   strict=True))
        t_col_base = _table(plan.vec_base[:-1])
        t_row_base = _table(plan.vec_base[1:])

        def bank_address(bank, address):
            return bank * depth + address

        streams = {}
        for index, name in enumerate(STREAMS):
            stream = Xorshift32(bits=bits)
            m.submodules[f"stream_{name}"] = stream
            m.d.comb += [stream.load.eq(self.seed_load),
                         stream.seed.eq(self.seed[32 * index:32 * index + 32])]
            streams[name] = stream

        lane_enable = (Const(1, K) << (j[:k_log] if k_log else 0))[:K]
        for name in _COLUMN + _ROW:
            mem = memory.Memory(shape=data.ArrayLayout(bits, K), depth=2 * depth, init=[])
            m.submodules[f"draws_{name}"] = mem
            write = mem.write_port(granularity=1)
            column = name in _COLUMN
            active = drawing & (j < (t_n[layer] if column else t_m[layer]))
            base = (t_col_base if column else t_row_base)[layer]
            m.d.comb += [
                streams[name].advance.eq(active),
                write.addr.eq(bank_address(~read_bank, base + (j >> k_log))),
                write.data.eq(Cat(*([streams[name].draw] * K))),
                write.en.eq(lane_enable & active.replicate(K)),
            ]
            read = mem.read_port()
            if column:
                m.d.comb += [read.addr.eq(bank_address(read_bank, self.col_addr)),
                             self.col[name].eq(read.data)]
            else:
                m.d.comb += [read.addr.eq(bank_address(read_bank, self.row_addr)),
                             self.row[name].eq(read.data)]
            if name == "v2":
                post = mem.read_port()
                m.d.comb += [post.addr.eq(bank_address(read_bank, self.post_addr)),
                             self.post_v2.eq(post.data)]

        with m.If(drawing):
            m.d.sync += j.eq(j + 1)
            with m.If(j == t_len[layer] - 1):
                m.d.sync += [j.eq(0), layer.eq(layer + 1)]
                with m.If(layer == cfg.n_layers - 1):
                    m.d.sync += [drawing.eq(0), full.eq(1), layer.eq(0)]
        with m.If(self.take & full):
            m.d.sync += [read_bank.eq(~read_bank), full.eq(0), drawing.eq(1), j.eq(0),
                         layer.eq(0)]
        with m.If(self.seed_load):
            m.d.sync += [drawing.eq(1), full.eq(0), j.eq(0), layer.eq(0)]
        with m.If(self.clear):
            m.d.sync += [drawing.eq(0), full.eq(0), j.eq(0), layer.eq(0)]
        m.d.comb += self.ready.eq(full)
        return m

