"""The streaming training engine: the whole MLP trained on chip, one tile per cycle.

``StreamEngine(cfg)`` (``docs/engine.md``) is a composition of four parts, each with its own
contract:

- :class:`~fewmul.hw.command_frontend.CommandFrontEnd`: the link's engine port (protocol
  commands, checks, answers, counters);
- :class:`~fewmul.hw.sequencer.Sequencer`: a step as layer passes of ``K x K`` tiles over the
  :class:`~fewmul.hw.tile_pipeline.TilePipeline`, with the forward and backward
  post-processing and the vector memories;
- :class:`~fewmul.hw.draw_unit.DrawUnit`: the five random streams, one step drawn ahead;
- :class:`~fewmul.hw.parameter_store.ParameterStore`: weight tiles and biases, and the link's
  word access to them (regions of ``fewmul.host.memory_map``).

Ports are those of the PE-array engine (``fewmul.hw.engine.Engine``), so the link, the host
driver and the testbenches drive either: ``engine``, ``mem`` and ``busy``. It needs a square
array (``cfg.array_rows == cfg.array_cols``, a power of two: ``K``).
"""

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from fewmul.host import memory_map

from ._checks import ConfigComponent
from .command_frontend import CommandFrontEnd
from .draw_unit import DrawUnit, draw_ports
from .engine_plan import EnginePlan
from .link import engine_signature, memory_signature
from .parameter_store import ParameterStore, parameter_ports
from .sequencer import Sequencer

__all__ = ["StreamEngine"]


class StreamEngine(ConfigComponent):
    """Training engine of the MLP ``cfg.layers`` on ``K x K`` streamed tiles.

    Ports
    -----
    engine : In(fewmul.hw.link.engine_signature())
    mem : In(fewmul.hw.link.memory_signature(weight_bits, 2 * n_layers))
        Served only while no command runs (the link is stop-and-wait).
    busy : Out(1)
    """

    def __init__(self, cfg):
        self._plan = EnginePlan(cfg)
        self._plan.lanes                                  # noqa: B018 -- square tiles or raise
        self.frontend = CommandFrontEnd(cfg)
        self.sequencer = Sequencer(cfg)
        self.draws = DrawUnit(cfg)
        self.store = ParameterStore(cfg)
        super().__init__(cfg)

    def members(self, cfg):
        return {
            "engine": In(engine_signature()),
            "mem": In(memory_signature(cfg.weight_bits, 2 * cfg.n_layers)),
            "busy": Out(1),
        }

    @property
    def plan(self):
        return self._plan

    @property
    def depths(self):
        """Region depths of the memory port (``fewmul.host.memory_map``)."""
        return tuple(r.depth for r in memory_map(self._cfg))

    @property
    def step_cycles(self):
        return self.sequencer.step_cycles

    def elaborate(self, platform):
        m = Module()
        front, seq, draws, store = self.frontend, self.sequencer, self.draws, self.store
        m.submodules.frontend = front
        m.submodules.sequencer = seq
        m.submodules.draws = draws
        m.submodules.store = store
        wiring.connect(m, wiring.flipped(self.engine), front.engine)
        wiring.connect(m, wiring.flipped(self.mem), store.mem)
        m.d.comb += [
            seq.start.eq(front.step_start), seq.predict.eq(front.step_predict),
            seq.label.eq(front.step_label), seq.lr_offset.eq(front.lr_offset),
            front.step_busy.eq(seq.busy), front.step_done.eq(seq.done),
            front.step_answer.eq(seq.answer),
            seq.sample_en.eq(front.sample_en), seq.sample_index.eq(front.sample_index),
            seq.sample_value.eq(front.sample_value),
            seq.score_index.eq(front.score_index), front.score.eq(seq.score),
            seq.clear_clips.eq(front.clear_clips),
            draws.seed_load.eq(front.seed_load), draws.seed.eq(front.seed),
            draws.clear.eq(front.clear_draws),
            store.host_allowed.eq(~front.busy),
            self.busy.eq(front.busy),
        ]
        m.d.comb += [front.clips[k].eq(seq.clips[k]) for k in range(self._cfg.n_layers)]
        for name in parameter_ports(self._cfg, self._plan):
            wiring.connect(m, getattr(seq, f"params_{name}"), getattr(store, name))
        for name, member in draw_ports(self._cfg, self._plan).items():
            outer, inner = getattr(seq, f"draws_{name}"), getattr(draws, name)
            if member.flow == In:
                m.d.comb += inner.eq(outer)
            else:
                m.d.comb += outer.eq(inner)
        return m
