"""The training engine: the whole MLP trained on chip, one weight tile per cycle.

``Engine(cfg)`` (``docs/engine.md``) is a composition of five parts, each with its own
contract:

- :class:`~fewmul.hw.engine_port_register.EnginePortRegister`: a register on each stream of
  the link's engine port (one cycle a transfer; the link and the front end never share a
  combinational path);
- :class:`~fewmul.hw.command_frontend.CommandFrontEnd`: the link's engine port (protocol
  commands, checks, answers, counters);
- :class:`~fewmul.hw.sequencer.Sequencer`: a step as layer passes of ``K x K`` tiles over the
  :class:`~fewmul.hw.tile_pipeline.TilePipeline`, with the forward and backward
  post-processing and the vector memories;
- :class:`~fewmul.hw.draw_unit.DrawUnit`: the five random streams, one step drawn ahead;
- :class:`~fewmul.hw.parameter_store.ParameterStore`: weight tiles and biases, and the link's
  word access to them (regions of ``fewmul.protocol.memory_map``).

Ports: ``engine`` and ``mem`` (the link's two target ports, ``docs/protocol.md``) and ``busy``.
It needs a square array (``cfg.array_rows == cfg.array_cols``, a power of two: ``K``).
:class:`EngineSystem` adds the link (byte streams only), :class:`EngineUartSystem` the UART
too (what a board top wraps).
"""

from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from fewmul.protocol import (
    MAX_REGION_WORDS,
    data_records_per_frame,
    memory_map,
    sample_payload_limit,
)

from ._checks import ConfigComponent, check_config, refusable
from .command_frontend import COUNTER_NAMES, CommandFrontEnd, counter_names
from .data_store import DataStore
from .draw_unit import DrawUnit, draw_cycles, draw_ports
from .engine_plan import EnginePlan
from .engine_port_register import EnginePortRegister
from .link import EnginePortSignature, Link, MemoryPortSignature
from .parameter_store import ParameterStore, parameter_ports
from .sequencer import Sequencer, step_cycles

__all__ = ["Engine", "EngineSystem", "EngineUartSystem", "COUNTER_NAMES", "counter_names",
           "hidden_draws_per_cycle"]


def hidden_draws_per_cycle(cfg):
    """The draw unit's ``D``: the fewest draws a cycle (a divisor of the tile size ``K``) that
    still draw the next step while this one runs (``draw_cycles + 1 <= step_cycles``), so the
    engine never waits for its draws; each more draw a cycle chains one more xorshift32 step in
    logic (at ``D = 4`` the ULX3S trainer's critical path)."""
    lanes, steps = EnginePlan(cfg).lanes, step_cycles(cfg)
    for per_cycle in (d for d in range(1, lanes + 1) if lanes % d == 0):
        if draw_cycles(cfg, per_cycle) + 1 <= steps:
            return per_cycle
    return lanes


class Engine(ConfigComponent):
    """Training engine of the MLP ``cfg.layers`` on ``K x K`` streamed tiles.

    Parameters
    ----------
    cfg : fewmul.config.Config
    data_capacity : int
        Samples of the on-chip data set (DATA, EPOCH); 0: none.
    frame_records : int
        Most DATA records a frame carries (the spare slots that stage them): by default as many
        as a 256-byte payload holds.
    region_words : int
        Most words of a memory region (``fewmul.protocol.memory_map``): the link's 65,535;
        smaller only to test how a layer splits over several regions with a small network.

    Ports
    -----
    engine : In(fewmul.hw.link.EnginePortSignature())
    mem : In(fewmul.hw.link.MemoryPortSignature(word_bits=weight_bits, n_regions=len(depths)))
        Served only while no command runs (the link is stop-and-wait).
    busy : Out(1)
    """

    @refusable
    def __init__(self, cfg, *, data_capacity=0, frame_records=None,
                 region_words=MAX_REGION_WORDS):
        self._plan = EnginePlan(cfg)
        self._plan.lanes                                  # noqa: B018 -- square tiles or raise
        self._regions = tuple(memory_map(cfg, region_words))
        self._region_words = region_words
        if frame_records is None:
            frame_records = data_records_per_frame(cfg.layers[0],
                                                   sample_payload_limit(cfg.layers[0]))
        for name, value, low in (("data_capacity", data_capacity, 0),
                                 ("frame_records", frame_records, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, not {value!r}")
        self._capacity, self._spare = data_capacity, frame_records
        super().__init__(cfg)

    def members(self, cfg):
        return {
            "engine": In(EnginePortSignature()),
            "mem": In(MemoryPortSignature(word_bits=cfg.weight_bits,
                                          n_regions=len(self._regions))),
            "busy": Out(1),
        }

    @property
    def plan(self):
        return self._plan

    @property
    def depths(self):
        """Region depths of the memory port (``fewmul.protocol.memory_map``)."""
        return tuple(r.depth for r in self._regions)

    @property
    def data_capacity(self):
        return self._capacity

    @property
    def frame_records(self):
        return self._spare

    @property
    def step_cycles(self):
        """Cycles of one TRAIN step (:func:`fewmul.hw.sequencer.step_cycles`)."""
        return step_cycles(self._cfg)

    def elaborate(self, platform):
        m = Module()
        cfg = self._cfg
        data_store = DataStore(cfg, capacity=self._capacity, spare=self._spare)
        front = CommandFrontEnd(cfg, capacity=self._capacity, spare=self._spare)
        seq = Sequencer(cfg, data_slots=data_store.slots, data_stride=data_store.stride)
        draws = DrawUnit(cfg, draws_per_cycle=hidden_draws_per_cycle(cfg))
        store = ParameterStore(cfg, region_words=self._region_words)
        m.submodules.data = data_store
        m.submodules.frontend = front
        m.submodules.sequencer = seq
        m.submodules.draws = draws
        m.submodules.store = store
        m.submodules.port = port = EnginePortRegister()
        wiring.connect(m, wiring.flipped(self.engine), port.link)
        wiring.connect(m, port.engine, front.engine)
        wiring.connect(m, wiring.flipped(self.mem), store.mem)
        m.d.comb += [
            seq.start.eq(front.step_start), seq.predict.eq(front.step_predict),
            seq.label.eq(front.step_label), seq.lr_offset.eq(front.lr_offset),
            seq.settle.eq(front.settle),
            front.step_busy.eq(seq.busy), front.step_done.eq(seq.done),
            front.step_answer.eq(seq.answer),
            seq.sample_slot.eq(front.sample_slot),
            data_store.read_addr.eq(seq.data_addr), seq.data_word.eq(data_store.read_word),
            seq.score_index.eq(front.score_index), front.score.eq(seq.score),
            seq.clear_clips.eq(front.clear_clips),
            draws.seed_load.eq(front.seed_load), draws.seed.eq(front.seed),
            draws.clear.eq(front.clear_draws),
            store.host_allowed.eq(~front.busy),
            self.busy.eq(front.busy),
        ]
        m.d.comb += [front.clips[k].eq(seq.clips[k]) for k in range(self._cfg.n_layers)]
        for name in ("write_en", "write_slot", "write_element", "write_value", "label_en",
                     "label_slot", "label_value", "copy_start", "copy_from", "copy_to",
                     "copy_count", "label_read_slot"):
            m.d.comb += getattr(data_store, name).eq(getattr(front, name))
        m.d.comb += [front.copy_busy.eq(data_store.copy_busy),
                     front.label_read.eq(data_store.label_read)]
        for name in parameter_ports(self._cfg, self._plan):
            wiring.connect(m, getattr(seq, f"params_{name}"), getattr(store, name))
        for name, member in draw_ports(self._cfg, self._plan).items():
            outer, inner = getattr(seq, f"draws_{name}"), getattr(draws, name)
            if member.flow == In:
                m.d.comb += inner.eq(outer)
            else:
                m.d.comb += outer.eq(inner)
        return m


class EngineSystem(wiring.Component):
    """:class:`fewmul.hw.link.Link` + :class:`Engine`: byte streams ``i`` and ``o`` only.

    ``max_payload`` and ``timeout_cycles`` are the link's (``timeout_cycles >= 20 *`` the UART
    divisor on a board; ``max_payload`` by default 256 bytes or one DATA record of the network's
    inputs, whichever is larger: ``fewmul.protocol.sample_payload_limit``);
    ``data_capacity``: samples of the on-chip data set; ``region_words``: :class:`Engine`'s.
    """

    @refusable
    def __init__(self, cfg, *, max_payload=None, timeout_cycles=1000, data_capacity=0,
                 region_words=MAX_REGION_WORDS):
        max_payload = sample_payload_limit(check_config(cfg).layers[0], max_payload)
        self.engine = Engine(cfg, data_capacity=data_capacity,
                             frame_records=data_records_per_frame(cfg.layers[0], max_payload),
                             region_words=region_words)
        self.link = Link(word_bits=cfg.weight_bits, depths=self.engine.depths,
                         max_payload=max_payload, timeout_cycles=timeout_cycles)
        super().__init__({"i": In(stream.Signature(8)), "o": Out(stream.Signature(8)),
                          "busy": Out(1)})

    @property
    def cfg(self):
        return self.engine.cfg

    def elaborate(self, platform):
        m = Module()
        m.submodules.link = self.link
        m.submodules.engine = self.engine
        wiring.connect(m, wiring.flipped(self.i), self.link.i)
        wiring.connect(m, self.link.o, wiring.flipped(self.o))
        wiring.connect(m, self.link.mem, self.engine.mem)
        wiring.connect(m, self.link.engine, self.engine.engine)
        m.d.comb += self.busy.eq(self.engine.busy)
        return m


class EngineUartSystem(wiring.Component):
    """Board form: :class:`fewmul.hw.host_link.HostLink` (UART + link) + :class:`Engine`.

    Ports: ``rx`` / ``tx`` (UART pins, 8N1, ``divisor`` clocks per bit) and ``busy``.
    """

    @refusable
    def __init__(self, cfg, *, divisor, max_payload=None, timeout_cycles=None, data_capacity=0):
        from .host_link import HostLink
        max_payload = sample_payload_limit(check_config(cfg).layers[0], max_payload)
        self.engine = Engine(cfg, data_capacity=data_capacity,
                             frame_records=data_records_per_frame(cfg.layers[0], max_payload))
        self.host_link = HostLink(divisor=divisor, word_bits=cfg.weight_bits,
                                  depths=self.engine.depths, max_payload=max_payload,
                                  timeout_cycles=timeout_cycles)
        super().__init__({"rx": In(1, init=1), "tx": Out(1, init=1), "busy": Out(1)})

    @property
    def cfg(self):
        return self.engine.cfg

    def elaborate(self, platform):
        m = Module()
        m.submodules.host_link = self.host_link
        m.submodules.engine = self.engine
        wiring.connect(m, self.host_link.mem, self.engine.mem)
        wiring.connect(m, self.host_link.engine, self.engine.engine)
        m.d.comb += [self.host_link.rx.eq(self.rx), self.tx.eq(self.host_link.tx),
                     self.busy.eq(self.engine.busy)]
        return m
