"""cocotb testbench: ``fewmul.hw.array.PEArray`` against ``fewmul.golden.array.ArrayModel``.

The testbench owns the clock and reset, a command driver (random idle gaps), a result driver of
``ready`` (random back-pressure), monitors of both streams, and a scoreboard: the commands seen
accepted are replayed on the golden model at the end of each batch, and its results are compared
with the results seen leaving the array, in order, bit for bit. Python wakes twice a cycle and
the golden model runs once per batch.
"""

import cocotb
import numpy as np
from amaranth.hdl import Shape
from amaranth.lib import data
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge

from fewmul.config import Config
from fewmul.golden.array import OPS, ArrayModel
from fewmul.hw.array import command_layout, result_layout
from fewmul.sim.runner import testbench_params, volume
from fewmul.sim.tb_common import Scoreboard

_COMMAND_FIELDS = ("x", "u", "q", "u2", "weights", "delta", "v", "v2")


class PayloadCodec:
    """Packs command dicts into ``cmd.payload`` integers; unpacks ``result.payload``."""

    def __init__(self, layout):
        self.fields = {}
        for name, field in layout:
            shape = field.shape
            if isinstance(shape, data.ArrayLayout):
                elem = Shape.cast(shape.elem_shape)
                width, signed, count = elem.width, elem.signed, shape.length
            else:
                width, signed, count = Shape.cast(shape).width, Shape.cast(shape).signed, None
            self.fields[name] = (field.offset, width, signed, count)

    def pack(self, values):
        word = 0
        for name, value in values.items():
            offset, width, _, count = self.fields[name]
            mask = (1 << width) - 1
            if count is None:
                word |= (int(value) & mask) << offset
            else:
                for k, item in enumerate(value):
                    word |= (int(item) & mask) << (offset + k * width)
        return word

    def unpack(self, word, name):
        offset, width, signed, count = self.fields[name]
        mask = (1 << width) - 1
        items = [(word >> (offset + k * width)) & mask for k in range(count or 1)]
        if signed:
            items = [v - (1 << width) if v >> (width - 1) else v for v in items]
        return items if count is not None else items[0]


class CommandDriver:
    """Offers queued commands on ``cmd``, with ``idle`` probability of an empty cycle.

    ``lr_offset`` carries an UPDATE's learning-rate offset while the UPDATE is offered; with
    any other command offered (also while an earlier UPDATE still runs) it carries a random
    value, which the array must ignore: it reads ``lr_offset`` at the UPDATE's handshake.
    """

    def __init__(self, dut, codec, rng, idle):
        self.dut, self.codec, self.rng, self.idle = dut, codec, rng, idle
        self.queue = []
        self.position = 0
        self.offered = None

    def load(self, commands):
        self.queue = commands
        self.position = 0

    @property
    def done(self):
        return self.position >= len(self.queue) and self.offered is None

    def drive(self):
        """After a falling edge: keep the offered command, or offer the next one (or idle)."""
        if self.offered is None and self.position < len(self.queue):
            if self.idle and self.rng.random() < self.idle:
                self.dut.cmd__valid.value = 0
                return
            self.offered = self.queue[self.position]
            self.position += 1
            self.dut.cmd__payload.value = self.codec.pack(self.offered["packed"])
            self.dut.cmd__valid.value = 1
            lr_range = self.offered["lr_range"]
            self.dut.lr_offset.value = (self.offered["lr_offset"] if self.offered["op"] == "UPDATE"
                                        else int(self.rng.integers(0, lr_range + 1)))
        elif self.offered is None:
            self.dut.cmd__valid.value = 0

    def sample(self, accepted):
        """After ReadOnly: returns the command accepted at the coming edge, if any."""
        if self.offered is not None and accepted:
            command, self.offered = self.offered, None
            return command
        return None


class ResultMonitor:
    """Drives ``result.ready`` (``backpressure`` probability of low) and records results."""

    def __init__(self, dut, codec, rng, backpressure):
        self.dut, self.codec, self.rng, self.backpressure = dut, codec, rng, backpressure
        self.results = []
        self.ready = None

    def drive(self):
        ready = 0 if self.backpressure and self.rng.random() < self.backpressure else 1
        if ready != self.ready:
            self.dut.result__ready.value = ready
            self.ready = ready

    def sample(self):
        if self.ready and int(self.dut.result__valid.value):
            value = self.dut.result__payload.value
            try:
                word = value.to_unsigned()
            except ValueError:
                raise AssertionError(f"result.payload has X/Z bits while valid: {value}") from None
            op = OPS[self.codec.unpack(word, "op")]
            field = {"FORWARD": "acc", "BACKWARD": "grad", "READ": "weights"}[op]
            self.results.append({"op": op, field: self.codec.unpack(word, field)})


class ArrayTestbench:
    """Driver, monitor and scoreboard of one array; :meth:`make_model` is its golden twin."""

    #: The scoreboard's and the messages' name of the DUT.
    name = "array"
    #: Whether the DUT has the ``clips`` output (saturation events) to compare with the model's.
    counts_clips = True

    def __init__(self, dut, params):
        self.dut = dut
        self.cfg = Config.from_dict(params["cfg"])
        self.rng = np.random.default_rng(params["seed"])
        self.cmd_codec = PayloadCodec(command_layout(self.cfg))
        self.result_codec = PayloadCodec(result_layout(self.cfg))
        self.driver = CommandDriver(dut, self.cmd_codec, self.rng, params.get("idle", 0.0))
        self.monitor = ResultMonitor(dut, self.result_codec, self.rng,
                                     params.get("backpressure", 0.0))
        self.model = self.make_model()
        self.scoreboard = Scoreboard(self.name, dut._log)
        self.accepted = []
        self.clips = 0                        # the array's saturation events, summed
        self.cycle = 0
        self.accept_cycles = []
        self.result_cycles = []

    def make_model(self):
        return ArrayModel(self.cfg)

    def _sample_clips(self):
        if self.counts_clips:
            self.clips += int(self.dut.clips.value)

    async def start(self):
        dut = self.dut
        dut.cmd__valid.value = 0
        dut.cmd__payload.value = 0
        dut.lr_offset.value = 0
        dut.result__ready.value = 0
        cocotb.start_soon(Clock(dut.clk, 10, unit="ns", impl="gpi").start())
        dut.rst.value = 1
        for _ in range(2):
            await RisingEdge(dut.clk)
        await FallingEdge(dut.clk)
        dut.rst.value = 0

    async def run(self, commands, drain_cycles=None):
        """Play ``commands`` until all are accepted and every result is out; then score."""
        self.driver.load(commands)
        expected = sum(c["op"] in ("FORWARD", "BACKWARD", "READ") for c in commands)
        before = len(self.monitor.results)
        limit = drain_cycles or (len(commands) * (self.cfg.array_rows + 8) + 200) * 4
        dut = self.dut
        for _ in range(limit):
            self.driver.drive()
            self.monitor.drive()
            await ReadOnly()
            accepted = int(dut.cmd__valid.value) and int(dut.cmd__ready.value)
            self._sample_clips()
            command = self.driver.sample(accepted)
            if command is not None:
                self.accepted.append(command)
                self.accept_cycles.append(self.cycle)
            count = len(self.monitor.results)
            self.monitor.sample()
            if len(self.monitor.results) > count:
                self.result_cycles.append(self.cycle)
            await FallingEdge(dut.clk)
            self.cycle += 1
            if self.driver.done and len(self.monitor.results) - before >= expected:
                break
        dut.cmd__valid.value = 0
        for _ in range(self.cfg.array_rows + 8):      # a last UPDATE may still write its rows
            await ReadOnly()
            self._sample_clips()
            await FallingEdge(dut.clk)
            self.cycle += 1
        self.score(commands, self.monitor.results[before:])

    def score(self, commands, results):
        want = [r for r in (self.model.execute(c) for c in commands) if r is not None]
        assert len(results) == len(want), (
            f"{self.name}: {len(results)} results for {len(want)} expected (commands stuck?)")
        got_rows, want_rows, stim = {}, {}, {}
        for k, (g, w) in enumerate(zip(results, want, strict=True)):
            field = next(f for f in w if f != "op")
            ok_op = g["op"] == w["op"]
            got_rows[k] = (ok_op, list(g.get(field, [])))
            want_rows[k] = (True, [int(v) for v in w[field]])
            stim[k] = w["op"]
        keys = list(got_rows)
        self.scoreboard.compare(
            {"index": np.array(keys), "op": np.array([stim[k] for k in keys])},
            {"match": np.array([got_rows[k] == want_rows[k] for k in keys], dtype=np.int64)},
            {"match": np.ones(len(keys), dtype=np.int64)})
        # The saturation events of every UPDATE so far (the run drains the last one's rows).
        if self.counts_clips:
            self.scoreboard.compare({"index": np.array([len(self.accepted)])},
                                    {"clips": np.array([self.clips])},
                                    {"clips": np.array([self.model.clips])})
        # Commands without a result (UPDATE, LOAD) are checked through later READs/FORWARDs;
        # count them as checked transactions too.
        self.scoreboard.checked += len(commands) - len(want)
        if self.scoreboard.failures and not getattr(self, "_reported", False):
            self._reported = True
            bad = [k for k in keys if got_rows[k] != want_rows[k]][:3]
            self.dut._log.error("first mismatches: %s",
                                [(stim[k], got_rows[k], want_rows[k]) for k in bad])

    # -- stimulus ---------------------------------------------------------------------------

    def command(self, op, **fields):
        """A command dict: ``op`` and its fields, filled with random values where missing."""
        cfg, rng = self.cfg, self.rng
        rows, cols, top = cfg.array_rows, cfg.array_cols, 1 << cfg.rand_bits
        half_x, half_w, half_e = 1 << cfg.act_frac, 1 << cfg.weight_frac, 1 << (cfg.err_bits - 1)
        values = {"op": op, "deterministic": 0, "lr_range": cfg.lr_range,
                  "lr_offset": int(fields.pop("lr_offset", rng.integers(0, cfg.lr_range + 1)))}
        need = {"FORWARD": ("x", "u", "v"), "BACKWARD": ("delta", "u", "v"),
                "UPDATE": ("x", "q", "u2", "delta", "v2"), "LOAD": ("weights",),
                "READ": ()}[op]
        for name in need:
            if name in fields:
                continue
            if name == "x":
                fields[name] = rng.integers(-half_x, half_x, cols)
            elif name == "weights":
                fields[name] = rng.integers(-half_w, half_w, cols)
            elif name == "delta":
                fields[name] = rng.integers(-half_e, half_e, rows)
            else:
                fields[name] = rng.integers(0, top, rows if name in ("v", "v2") else cols)
        values.update(fields)
        packed = {"op": OPS.index(op), "deterministic": values["deterministic"]}
        packed.update({k: v for k, v in values.items() if k in _COMMAND_FIELDS})
        values["packed"] = packed
        return values

    def load_tile(self, tile):
        return [self.command("LOAD", weights=row) for row in tile]

    def read_tile(self):
        return [self.command("READ") for _ in range(self.cfg.array_rows)]

    def random_tile(self, kind="uniform"):
        cfg, rng = self.cfg, self.rng
        shape = (cfg.array_rows, cfg.array_cols)
        one = 1 << cfg.weight_frac
        if kind == "rails":
            return np.where(rng.random(shape) < 0.5, -one, one - 1) + rng.integers(-3, 4, shape)
        if kind == "small":
            return rng.integers(-(one >> 3), one >> 3, shape)
        return rng.integers(-one, one, shape)

    def random_program(self, n):
        """``n`` commands: a tile load, then a random mix; UPDATE and READ sweeps included."""
        cfg, rng = self.cfg, self.rng
        program = self.load_tile(np.clip(self.random_tile(rng.choice(["uniform", "rails",
                                                                        "small"])),
                                         -(1 << cfg.weight_frac), (1 << cfg.weight_frac) - 1))
        while len(program) < n:
            pick = rng.random()
            if pick < 0.38:
                program.append(self.command("FORWARD", deterministic=int(rng.random() < 0.2)))
            elif pick < 0.76:
                program.append(self.command("BACKWARD", deterministic=int(rng.random() < 0.2)))
            elif pick < 0.84:
                program.append(self.command("UPDATE"))
            elif pick < 0.90:
                program += self.read_tile()
            elif pick < 0.95:
                program.append(self.command("READ"))
            else:
                program.append(self.command("LOAD"))
        return program

    def step_program(self):
        """One training step on the tile: FORWARD, BACKWARD with the same draws, UPDATE."""
        fwd = self.command("FORWARD")
        bwd = self.command("BACKWARD", u=fwd["u"], v=fwd["v"])
        upd = self.command("UPDATE", x=fwd["x"])
        return [fwd, bwd, upd]

    def corner_program(self):
        cfg = self.cfg
        rows, cols = cfg.array_rows, cfg.array_cols
        one = 1 << cfg.weight_frac
        x_lo, x_hi = -(1 << cfg.act_frac), (1 << cfg.act_frac) - 1
        e_lo, e_hi = -(1 << (cfg.err_bits - 1)), (1 << (cfg.err_bits - 1)) - 1
        top = (1 << cfg.rand_bits) - 1
        zeros_r, zeros_c = np.zeros(rows, dtype=np.int64), np.zeros(cols, dtype=np.int64)
        program = []
        tiles = [np.full((rows, cols), -one), np.full((rows, cols), one - 1),
                 np.zeros((rows, cols), dtype=np.int64),
                 np.tile(np.array([-one, one - 1]), (rows, cols))[:, :cols]]
        if rows > 1:                                       # an all-zero ternary row in the middle
            mixed = self.random_tile()
            mixed[rows // 2] = 0
            tiles.append(mixed)
        for tile in tiles:
            program += self.load_tile(tile)
            for x in (np.full(cols, x_lo), np.full(cols, x_hi), zeros_c):
                for u, v in ((zeros_c, zeros_r), (np.full(cols, top), zeros_r)):
                    for det in (0, 1):
                        program.append(self.command("FORWARD", x=x, u=u, v=v,
                                                    deterministic=det))
            for delta in (np.full(rows, e_lo), np.full(rows, e_hi), zeros_r):
                program.append(self.command("BACKWARD", delta=delta, u=zeros_c, v=zeros_r))
                program.append(self.command("BACKWARD", delta=delta, u=zeros_c,
                                            v=np.full(rows, top), deterministic=1))
            program += self.read_tile()
        # saturation both ways: weights at the rails pushed outwards by the largest steps
        for sign in (1, -1):
            program += self.load_tile(np.full((rows, cols), one - 1 if sign > 0 else -one))
            for x, delta in ((np.full(cols, x_hi), np.full(rows, e_hi if sign > 0 else e_lo)),
                             (np.full(cols, x_lo), np.full(rows, e_lo if sign > 0 else e_hi)),
                             (zeros_c, np.full(rows, e_hi))):
                for lr_offset in (0, cfg.lr_range):           # the fastest and slowest rate
                    program.append(self.command("UPDATE", x=x, delta=delta,
                                                q=np.full(cols, top), u2=zeros_c, v2=zeros_r,
                                                lr_offset=lr_offset))
                    program += self.read_tile()
        # one UPDATE at every learning rate, with the same operands, each read back
        step = self.command("UPDATE")
        for lr_offset in range(cfg.lr_range + 1):
            program += self.load_tile(self.random_tile("small"))
            program.append(self.command("UPDATE", lr_offset=lr_offset,
                                        **{k: step[k] for k in ("x", "q", "u2", "delta", "v2")}))
            program += self.read_tile()
        return program

    def check(self):
        self.scoreboard.check()


@cocotb.test()
async def latency(dut):
    """An idle array answers FORWARD after ``latency`` cycles and READ after ``read_latency``;
    an UPDATE keeps the next command waiting ``update_cycles`` cycles after its handshake."""
    params = testbench_params()
    tb = ArrayTestbench(dut, {**params, "idle": 0.0, "backpressure": 0.0})
    await tb.start()
    await tb.run(tb.load_tile(tb.random_tile()))         # weights are reset-less: load first
    got = []
    for op in ("FORWARD", "READ"):
        for _ in range(3):                                # let the array settle idle
            await FallingEdge(dut.clk)
            tb.cycle += 1
        accepts = len(tb.accept_cycles)
        results = len(tb.result_cycles)
        await tb.run([tb.command(op)])
        got.append(tb.result_cycles[results] - tb.accept_cycles[accepts])
    # UPDATE then FORWARD back to back: the FORWARD is accepted update_cycles after the UPDATE
    accepts = len(tb.accept_cycles)
    await tb.run([tb.command("UPDATE"), tb.command("FORWARD")])
    got.append(tb.accept_cycles[accepts + 1] - tb.accept_cycles[accepts])
    want = [params["latency"], params["read_latency"], params["update_cycles"]]
    assert got == want, f"latency (FORWARD, READ, UPDATE cycles): got {got}, want {want}"
    tb.check()


async def run_corners(tb):
    """The corner program (rails, zeros, saturation both ways, every learning rate), scored."""
    await tb.start()
    await tb.run(tb.corner_program())
    tb.check()


async def run_training_steps(tb, transactions):
    """Forward, backward with the forward's draws, update: the sequence of a training step."""
    await tb.start()
    program = tb.load_tile(tb.random_tile())
    for _ in range(max(1, int(transactions * volume()) // 12)):
        program += tb.step_program()
    program += tb.read_tile()
    await tb.run(program)
    tb.check()


async def run_random_mix(tb, transactions):
    """Random programs (idle gaps and back-pressure from the params) until ``transactions``
    (times the volume) are checked."""
    await tb.start()
    total = int(transactions * volume())
    while tb.scoreboard.checked < total:
        await tb.run(tb.random_program(min(2000, total)))
    tb.check()


@cocotb.test()
async def corners(dut):
    await run_corners(ArrayTestbench(dut, testbench_params()))


@cocotb.test()
async def training_steps(dut):
    params = testbench_params()
    await run_training_steps(ArrayTestbench(dut, params), params["transactions"])


@cocotb.test()
async def random_mix(dut):
    params = testbench_params()
    await run_random_mix(ArrayTestbench(dut, params), params["transactions"])
