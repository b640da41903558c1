"""cocotb testbench: ``fewmul.hw.tile_pipeline.TilePipeline`` against ``golden.tile.tile_pass``.

The driver presents one command per cycle with random idle gaps (directed corners first, then
seeded random tiles); monitors record every ``sums``, ``updated`` and ``clips`` result with the
cycle it left. At the end the golden twin runs once per command and the scoreboard compares, in
order and bit for bit: every command's sums, every TRAIN's updated tile and saturation count,
the tags (each command's index), and each result's latency against the pipeline's stated
``sum_latency``, ``update_latency`` and ``clips_latency``.
"""

import cocotb
import numpy as np
from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge

from fewmul.config import Config
from fewmul.golden.tile import TILE_OPS, tile_pass
from fewmul.hw.tile_pipeline import TilePipeline, tile_command_layout
from fewmul.sim.runner import testbench_params, volume
from fewmul.sim.tb_array import PayloadCodec
from fewmul.sim.tb_common import Scoreboard

__all__ = ["TilePipelineTop"]


class TilePipelineTop(wiring.Component):
    """:class:`TilePipeline` with plain streams at the top level, for simulation (an
    ``always_ready`` stream's constant ``ready`` cannot be a Verilog port)."""

    def __init__(self, cfg, *, tag_bits):
        self._pipeline = TilePipeline(cfg, tag_bits=tag_bits)
        members = {}
        for name, member in self._pipeline.signature.members.items():
            shape = member.signature.members["payload"].shape
            direction = In if member.flow == In else Out
            members[name] = direction(stream.Signature(shape))
        super().__init__(members)

    @property
    def pipeline(self):
        return self._pipeline

    def elaborate(self, platform):
        m = Module()
        m.submodules.pipeline = pipeline = self._pipeline
        m.d.comb += [pipeline.cmd.valid.eq(self.cmd.valid),
                     pipeline.cmd.payload.eq(self.cmd.payload), self.cmd.ready.eq(1)]
        for name in ("sums", "updated", "clips"):
            inner, outer = getattr(pipeline, name), getattr(self, name)
            m.d.comb += [outer.valid.eq(inner.valid), outer.payload.eq(inner.payload)]
        return m


class TilePipelineTestbench:
    def __init__(self, dut, params):
        self.dut = dut
        self.cfg = Config.from_dict(params["cfg"])
        self.params = params
        self.tag_bits = params["tag_bits"]
        self.rng = np.random.default_rng(params["seed"])
        cfg = self.cfg
        self.cmd_codec = PayloadCodec(tile_command_layout(cfg, self.tag_bits))
        pipeline = TilePipeline(cfg, tag_bits=self.tag_bits)
        self.codecs = {name: PayloadCodec(getattr(pipeline, name).payload.shape())
                       for name in ("sums", "updated", "clips")}
        self.latency = {"sums": pipeline.sum_latency, "updated": pipeline.update_latency,
                        "clips": pipeline.clips_latency}
        self.seen = {name: [] for name in self.codecs}

    # -- stimulus ---------------------------------------------------------------------------
    def random_command(self, corner=None):
        cfg, rng = self.cfg, self.rng
        rows, cols, bits = cfg.array_rows, cfg.array_cols, 1 << cfg.rand_bits
        wmin, wmax = -(1 << (cfg.weight_bits - 1)), (1 << (cfg.weight_bits - 1)) - 1
        amin, amax = -(1 << (cfg.act_bits - 1)), (1 << (cfg.act_bits - 1)) - 1
        emin, emax = -(1 << (cfg.err_bits - 1)), (1 << (cfg.err_bits - 1)) - 1
        cmd = {
            "op": TILE_OPS[int(rng.integers(0, 2))],
            "deterministic": int(rng.random() < 0.2),
            "lr_offset": int(rng.integers(0, cfg.lr_range + 1)),
            "weights": rng.integers(wmin, wmax + 1, rows * cols),
            "x": rng.integers(amin, amax + 1, cols),
            "u": rng.integers(0, bits, cols), "q": rng.integers(0, bits, cols),
            "u2": rng.integers(0, bits, cols),
            "delta": rng.integers(emin, emax + 1, rows),
            "v": rng.integers(0, bits, rows), "v2": rng.integers(0, bits, rows),
        }
        # sparse and small values are where the quantizer's zero code and the rounding act
        if rng.random() < 0.3:
            cmd["x"] = np.where(rng.random(cols) < 0.5, 0, rng.integers(-4, 5, cols))
        if rng.random() < 0.3:
            cmd["delta"] = rng.integers(-64, 65, rows)
        if corner == "extremes":             # every weight at a range end, large steps
            cmd["op"] = "TRAIN"
            cmd["weights"] = rng.choice([wmin, wmax, wmin + 1, wmax - 1], rows * cols)
            cmd["delta"] = rng.choice([emin, emax], rows)
            cmd["x"] = rng.choice([amin, amax, 1 << (cfg.act_bits - 2)], cols)
            cmd["lr_offset"] = 0
        elif corner == "draw_ends":          # draws at 0 and at the top, weights near zero
            cmd["u"], cmd["v"] = rng.choice([0, bits - 1], cols), rng.choice([0, bits - 1], rows)
            cmd["u2"], cmd["v2"] = rng.choice([0, bits - 1], cols), rng.choice([0, bits - 1], rows)
            cmd["q"] = rng.choice([0, bits - 1], cols)
            cmd["weights"] = rng.integers(-2, 3, rows * cols)
        elif corner == "zeros":
            cmd["x"] = np.zeros(cols, dtype=np.int64)
            cmd["delta"] = np.zeros(rows, dtype=np.int64)
        return cmd

    def program(self, count):
        corners = [c for c in ("extremes", "draw_ends", "zeros") for _ in range(4)]
        commands = [self.random_command(c) for c in corners]
        commands += [self.random_command() for _ in range(count)]
        for index, cmd in enumerate(commands):
            cmd["tag"] = index % (1 << self.tag_bits)
        return commands

    # -- driving and monitoring --------------------------------------------------------------
    async def run(self, commands, idle):
        dut = self.dut
        cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
        dut.rst.value = 1
        dut.cmd__valid.value = 0
        await RisingEdge(dut.clk)
        await RisingEdge(dut.clk)
        await FallingEdge(dut.clk)
        dut.rst.value = 0
        issued = []                                     # (command, cycle of its handshake)
        position, cycle = 0, 0
        drain = max(self.latency.values()) + 4
        while position < len(commands) or drain:
            if position < len(commands) and not (idle and self.rng.random() < idle):
                cmd = commands[position]
                packed = {k: (TILE_OPS.index(v) if k == "op" else v) for k, v in cmd.items()}
                dut.cmd__payload.value = self.cmd_codec.pack(packed)
                dut.cmd__valid.value = 1
                issued.append((cmd, cycle))
                position += 1
            else:
                dut.cmd__valid.value = 0
                if position >= len(commands):
                    drain -= 1
            await ReadOnly()
            for name in self.codecs:
                if int(getattr(dut, f"{name}__valid").value):
                    word = getattr(dut, f"{name}__payload").value
                    try:
                        word = word.to_unsigned()
                    except ValueError:
                        raise AssertionError(f"{name}.payload has X/Z bits while valid") from None
                    self.seen[name].append((word, cycle))
            await FallingEdge(dut.clk)
            cycle += 1
        return issued

    # -- scoring ----------------------------------------------------------------------------
    def score(self, issued):
        board = Scoreboard("tile_pipeline", cocotb.log)
        trains = [(c, t) for c, t in issued if c["op"] == "TRAIN"]
        expected = {"sums": issued, "updated": trains, "clips": trains}
        for name, codec in self.codecs.items():
            got_list, want_list = self.seen[name], expected[name]
            assert len(got_list) == len(want_list), (
                f"{name}: {len(got_list)} results for {len(want_list)} commands")
            got, want = {}, {}
            for (word, cycle), (cmd, issued_at) in zip(got_list, want_list, strict=True):
                gold = tile_pass(cmd, self.cfg)
                fields = {"sums": ("acc", "grad"), "updated": ("weights",),
                          "clips": ("count",)}[name]
                pairs = [("tag", codec.unpack(word, "tag"), cmd["tag"]),
                         ("latency", cycle - issued_at, self.latency[name])]
                if name == "sums":
                    pairs.append(("op", codec.unpack(word, "op"), TILE_OPS.index(cmd["op"])))
                for field in fields:
                    target = gold["clips"] if field == "count" else gold[field]
                    values = np.atleast_1d(codec.unpack(word, field))
                    pairs += [(f"{field}{k}", v, t)
                              for k, (v, t) in enumerate(zip(values, np.ravel(target),
                                                             strict=True))]
                for key, value, target in pairs:
                    got.setdefault(key, []).append(int(value))
                    want.setdefault(key, []).append(int(target))
            stimulus = {"tag": [c["tag"] for c, _ in want_list]}
            board.compare(stimulus, got, want)
        board.check()


@cocotb.test()
async def random_tiles(dut):
    params = testbench_params()
    tb = TilePipelineTestbench(dut, params)
    count = max(20, int(params["commands"] * volume()))
    issued = await tb.run(tb.program(count), idle=params["idle"])
    tb.score(issued)
