"""The step's random draws, generated one step ahead (``docs/datapath.md`` section 6).

``DrawUnit(cfg)`` owns the five xorshift32 streams (``fewmul.hw.rng.xorshift32_next``) and
the five draw memories of the streaming engine, double-buffered: while the engine computes a
step from one bank, the unit writes the next step's draws into the other, so drawing costs the
engine no cycles once it has started. Draws depend on nothing but the streams, so drawing ahead
is invisible to the host: a TRAIN uses exactly the draws ``train_step`` would (SEED and RESET
discard what was drawn ahead; PREDICT draws nothing).

The column streams (``COL_SAMPLE``, ``QUANT``, ``COL_ROUND``) draw ``u, q, u'[j]`` for
``j = 0 .. N_l - 1`` of each layer ``l`` in turn (the golden order) into lane ``j % K`` of word
``vec_base[l] + j // K``; the row streams (``ROW_SAMPLE``, ``ROW_ROUND``) draw ``v, v'[i]``,
``i < M_l``, into word ``vec_base[l + 1] + i // K`` (``fewmul.hw.engine_plan.EnginePlan``), on
a schedule of their own. Each stream makes ``D = draws_per_cycle`` consecutive draws a cycle
(``D`` xorshift32 steps chained in logic; fewer at the end of a layer), so a step takes
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

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import data, memory
from amaranth.lib.wiring import In, Out

from ._checks import ConfigComponent, refusable
from .const_table import const_table
from .engine_plan import EnginePlan
from .rng import xorshift32_next

__all__ = ["DrawUnit", "STREAMS", "draw_ports", "draw_cycles"]

#: Stream order of SEED and of ``docs/datapath.md`` section 6.
STREAMS = ("u", "v", "q", "u2", "v2")
_COLUMN = ("u", "q", "u2")
_ROW = ("v", "v2")


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


def draw_cycles(cfg, per_cycle):
    """Cycles of the longer of the two draw schedules of a step."""
    def cycles(sizes):
        return sum(-(-n // per_cycle) for n in sizes)
    return max(cycles(cfg.layers[:-1]), cycles(cfg.layers[1:]))


class DrawUnit(ConfigComponent):
    """Five streams and their double-buffered draw memories (see the module docstring)."""

    @refusable
    def __init__(self, cfg, *, draws_per_cycle=None):
        self._plan = EnginePlan(cfg)
        lanes = self._plan.lanes
        if draws_per_cycle is None:
            draws_per_cycle = min(lanes, 4)
        if (isinstance(draws_per_cycle, bool) or not isinstance(draws_per_cycle, int)
                or draws_per_cycle < 1 or lanes % draws_per_cycle):
            raise ValueError(f"draws_per_cycle must be a positive divisor of the tile size "
                             f"{lanes}, not {draws_per_cycle!r}")
        self._per_cycle = draws_per_cycle
        super().__init__(cfg)

    def members(self, cfg):
        return {
            "seed_load": In(1),
            "seed": In(32 * len(STREAMS)),
            "clear": In(1),
            **draw_ports(cfg, self._plan),
        }

    @property
    def draws_per_cycle(self):
        """``D``: consecutive draws of each stream per cycle."""
        return self._per_cycle

    @property
    def step_cycles(self):
        """Cycles to draw one step: the longer of the column schedule, ``sum ceil(N_l / D)``,
        and the row schedule, ``sum ceil(M_l / D)`` (they run side by side), plus one."""
        return 1 + draw_cycles(self._cfg, self._per_cycle)

    def elaborate(self, platform):
        cfg, plan = self._cfg, self._plan
        m = Module()
        K, depth, bits, D = plan.lanes, plan.vec_depth, cfg.rand_bits, self._per_cycle
        k_log = K.bit_length() - 1

        read_bank = Signal()                     # the bank the engine reads
        drawing = Signal()                       # the other bank is being filled
        full = Signal()                          # the other bank holds a whole step
        restart = Signal()                       # start drawing a step into the other bank

        def bank_address(bank, address):
            return bank * depth + address

        # Two schedules, each over the layers: the column streams (N_l draws a layer) and the
        # row streams (M_l); up to D consecutive draws of a stream per cycle.
        schedules = {}
        for group, sizes, bases in (("column", cfg.layers[:-1], plan.vec_base[:-1]),
                                    ("row", cfg.layers[1:], plan.vec_base[1:])):
            layer = Signal(range(cfg.n_layers + 1), name=f"{group}_layer")
            j = Signal(range(max(sizes) + D + 1), name=f"{group}_j")
            done = Signal(name=f"{group}_done")
            size, base = const_table(sizes)[layer], const_table(bases)[layer]
            count = Signal(range(D + 1), name=f"{group}_count")      # draws this cycle
            m.d.comb += count.eq(Mux(drawing & ~done,
                                     Mux(size - j >= D, D, size - j), 0))
            with m.If(drawing & ~done):
                m.d.sync += j.eq(j + D)
                with m.If(j + D >= size):
                    m.d.sync += [j.eq(0), layer.eq(layer + 1)]
                    with m.If(layer == cfg.n_layers - 1):
                        m.d.sync += done.eq(1)
            with m.If(restart):
                m.d.sync += [j.eq(0), layer.eq(0), done.eq(0)]
            lanes = Cat(*(d < count for d in range(D)))              # which draws are made
            lane_enable = Signal(K, name=f"{group}_lanes")
            m.d.comb += lane_enable.eq((lanes << (j[:k_log] if k_log else 0))[:K])
            schedules[group] = (base + (j >> k_log), count, lane_enable, done)

        for index, name in enumerate(STREAMS):
            group = "column" if name in _COLUMN else "row"
            address, count, lane_enable, _ = schedules[group]
            state = Signal(32, init=1, name=f"state_{name}")
            # each step a signal of its own: a step uses its input six times, so D chained
            # expressions would be a tree of 6^D copies (23 MB of RTLIL at D = 4)
            following = [state]
            for step in range(D):
                nxt = Signal(32, name=f"state_{name}_{step + 1}")
                m.d.comb += nxt.eq(xorshift32_next(following[-1]))
                following.append(nxt)
            with m.If(self.seed_load):
                m.d.sync += state.eq(self.seed[32 * index:32 * index + 32])
            with m.Else():
                with m.Switch(count):
                    for n in range(1, D + 1):
                        with m.Case(n):
                            m.d.sync += state.eq(following[n])
            # draw d of this cycle (the top bits of the state after d + 1 steps) goes to lane
            # (j + d) % K: the word holds the K lanes, each draw replicated into its lane
            draws = [following[d + 1][32 - bits:] for d in range(D)]
            replicated = Cat(*(draws[k % D] for k in range(K)))
            mem = memory.Memory(shape=data.ArrayLayout(bits, K), depth=2 * depth, init=[])
            m.submodules[f"draws_{name}"] = mem
            write = mem.write_port(granularity=1)
            m.d.comb += [write.addr.eq(bank_address(~read_bank, address)),
                         write.data.eq(replicated), write.en.eq(lane_enable)]
            read = mem.read_port()
            if name in _COLUMN:
                m.d.comb += [read.addr.eq(bank_address(read_bank, self.col_addr)),
                             self.col[name].eq(read.data)]
            else:
                m.d.comb += [read.addr.eq(bank_address(read_bank, self.row_addr)),
                             self.row[name].eq(read.data)]
            if name == "v2":
                post = mem.read_port()
                m.d.comb += [post.addr.eq(bank_address(read_bank, self.post_addr)),
                             self.post_v2.eq(post.data)]

        finished = schedules["column"][3] & schedules["row"][3]
        with m.If(drawing & finished):
            m.d.sync += [drawing.eq(0), full.eq(1)]
        with m.If(self.take & full):
            m.d.sync += [read_bank.eq(~read_bank), full.eq(0), drawing.eq(1)]
            m.d.comb += restart.eq(1)
        with m.If(self.seed_load):
            m.d.sync += [drawing.eq(1), full.eq(0)]
            m.d.comb += restart.eq(1)
        with m.If(self.clear):
            m.d.sync += [drawing.eq(0), full.eq(0)]
            m.d.comb += restart.eq(1)
        m.d.comb += self.ready.eq(full)
        return m

