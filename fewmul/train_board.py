"""The ``board`` backend of :func:`fewmul.training.train`: a board (real, or the virtual board of
``fewmul board sim``) on a serial port, checked against golden.

The host driver (:class:`fewmul.host.Device` over :class:`fewmul.host.SerialTransport`) speaks
``docs/protocol.md`` through the board's UART. Before anything is trained, :func:`connect`

1. opens the port (a missing port is a :class:`BoardError` naming it);
2. PINGs the board (no answer, or a garbled one: a :class:`BoardError` that names the likely
   cause, a board that is not programmed or a baud rate that is not the bitstream's);
3. checks that the design matches the Config: PING's ``word_bits`` and region depths
   (``fewmul.host.memory_map``: the MLP's layer sizes), and that the board accepts every
   learning-rate shift of the schedule (the LR command);

then :class:`BoardTrainer` RESETs, LOADs the initial network and reads it back, SEEDs the random
streams, and trains. With the keyed order (``--order keyed``) it uploads the training set once
(DATA; a board built without room for it is a :class:`BoardError` naming ``--data-capacity``)
and trains each epoch with LR and one EPOCH, whose answer (correct predictions, clips per
layer) is compared with golden's in the same order, then every weight. Otherwise it trains
per sample with TRAIN frames: each epoch starts with LR (the schedule's
shift), the golden model (``fewmul.golden.mlp.train_step``) runs alongside, every answer
(the step's predicted class) is compared, and every weight and bias is read back and compared
after the first sample (what PING cannot check: a bitstream built with other datapath modes
differs there, so at most one sample is trained on it), every ``check_every`` samples and at
the end of each epoch (a mismatch raises
:class:`fewmul.training.TrainingMismatch` naming layer, index and both values). Accuracy is the
golden evaluation of the (identical) trained network, as for the rtl backend.
"""

import time
from dataclasses import dataclass

import numpy as np

from fewmul.golden.schedule import epoch_config
from fewmul.host import Device, SerialTransport
from fewmul.protocol import ErrorCode, LinkError
from fewmul.training import TrainingMismatch, compare_network

__all__ = ["BoardError", "BoardSettings", "BoardTrainer", "board_backend", "connect",
           "layers_of_depths"]

#: The baud rate of the board tops (``fewmul.boards.top.BAUD``).
DEFAULT_BAUD = 115200


#: What a difference right after the first TRAIN most likely means.
FIRST_SAMPLE_HINT = (" after one sample: the bitstream was probably built with other datapath "
                     "choices than this run (PING cannot tell --sampling, --quantizer, "
                     "--activation, --update-fraction, --rand-bits); pass the ones it was built "
                     "with")


class BoardError(RuntimeError):
    """The board cannot be used for this run (port, answer, design); the message says what to
    do."""


@dataclass(frozen=True, kw_only=True)
class BoardSettings:
    """Settings of the board backend."""

    port: str
    baud: int = DEFAULT_BAUD
    timeout: float = 2.0          # seconds to wait for an answer
    check_every: int = 0          # compare every weight every N samples (0: end of epoch only)
    progress: bool = False        # a per-sample tqdm bar

    def __post_init__(self):
        if not isinstance(self.port, str) or not self.port:
            raise ValueError(f"port must name a serial port, not {self.port!r}")
        if isinstance(self.baud, bool) or not isinstance(self.baud, int) or self.baud <= 0:
            raise ValueError(f"baud must be a positive integer, not {self.baud!r}")
        if not self.timeout > 0:
            raise ValueError(f"timeout must be positive, not {self.timeout!r}")
        if (isinstance(self.check_every, bool) or not isinstance(self.check_every, int)
                or self.check_every < 0):
            raise ValueError(f"check_every must be an integer >= 0, not {self.check_every!r}")


class _CountingPort:
    """A pyserial port that counts the bytes read (to tell silence from garbage)."""

    def __init__(self, port):
        self._port = port
        self.received = 0

    def read(self, size=1):
        data = self._port.read(size)
        self.received += len(data)
        return data

    def __getattr__(self, name):
        return getattr(self._port, name)


def _open(settings):
    import serial
    try:
        transport = SerialTransport(settings.port, settings.baud, timeout=settings.timeout)
    except (serial.SerialException, OSError, ValueError) as exc:
        raise BoardError(f"cannot open serial port {settings.port!r} ({_reason(exc)}): plug the "
                         f"board in and pass its port with --port (e.g. /dev/ttyUSB1; "
                         f"`python -m serial.tools.list_ports` lists them)") from None
    transport.serial = _CountingPort(transport.serial)
    return transport


def _reason(exc):
    text = str(exc)
    return text.split(": ", 1)[-1] if "could not open port" in text else text


def layers_of_depths(depths):
    """The MLP layer sizes a PING's region depths stand for (``None`` if they are not a
    fewmul engine's map: per layer, ``N x M`` weights as one or more regions of whole rows of
    ``N``, then ``M`` biases; ``fewmul.protocol.memory_map``)."""
    depths = tuple(depths)

    def parse(start, layers):
        if start == len(depths):
            return tuple(layers) if layers else None
        total = 0
        for end in range(start, len(depths) - 1):      # weight regions start .. end, then biases
            total += depths[end]
            biases = depths[end + 1]
            if biases == 0 or total % biases:
                continue
            n_in = total // biases
            if (layers and n_in != layers[-1]) or any(d % n_in for d in depths[start:end + 1]):
                continue
            found = parse(end + 2, (layers or [n_in]) + [biases])
            if found:
                return found
        return None

    return parse(0, [])


def _describe(word_bits, layers, depths=()):
    """``layers`` as a user reads them (the region ``depths`` where they are not an MLP)."""
    mlp = f"a {'-'.join(map(str, layers))} MLP" if layers else f"regions {list(depths)}"
    return f"{mlp} with {word_bits}-bit weights"


def connect(cfg, settings, lr_shifts=()):
    """Open the port, PING, check the design against ``cfg`` and the learning-rate shifts
    ``lr_shifts``; returns the :class:`~fewmul.host.Device` (its transport open).

    Raises :class:`BoardError` with what to do; nothing has been changed on the board then
    (LR is the only command sent besides PING, and the trainer sets it again per epoch).
    """
    transport = _open(settings)
    device = Device(transport)
    try:
        try:
            info = device.ping()
        except LinkError as exc:
            raise BoardError(_no_answer(settings, transport, exc)) from None
        # any map of the run's MLP will do: the driver finds each layer's regions in the depths
        board_layers = layers_of_depths(info.depths)
        if info.word_bits != cfg.weight_bits or board_layers != tuple(cfg.layers):
            raise BoardError(
                f"the design on the board does not match this run: the board has "
                f"{_describe(info.word_bits, board_layers, info.depths)}, the run needs "
                f"{_describe(cfg.weight_bits, cfg.layers)}; pass the --hidden / --weight-bits the "
                f"bitstream was built with, or build and program one for this run "
                f"(fewmul build --design system ... then --program)")
        for shift in sorted(set(lr_shifts)):
            try:
                device.set_lr(shift)
            except LinkError as exc:
                raise BoardError(
                    f"the board refuses learning-rate shift {shift} ({exc}): its bitstream was "
                    f"built for other --lr-shift / --lr-range; use the values it was built "
                    f"with, or fewer --epochs or a larger --lr-decay") from None
    except BaseException:
        transport.close()
        raise
    return device


def _no_answer(settings, transport, exc):
    received = transport.serial.received
    where = f"on {settings.port} at {settings.baud} baud"
    if received:
        return (f"garbled answer from the board {where} ({received} bytes, no valid frame: "
                f"{exc}): the baud rate probably differs from the bitstream's; the fewmul board "
                f"tops run at {DEFAULT_BAUD} baud (--baud {DEFAULT_BAUD})")
    return (f"no answer from the board {where} within {settings.timeout:g} s: is it programmed "
            f"with a fewmul system bitstream (add --program) and is --baud the bitstream's "
            f"({DEFAULT_BAUD} for the fewmul board tops)?")


class BoardTrainer:
    """A trainer of :data:`fewmul.training.BACKENDS` on a board through the host driver."""

    def __init__(self, cfg, ds, options, settings, device=None):
        from fewmul.golden.mlp import init_network
        from fewmul.golden.rng import StreamSet, seed_states
        from fewmul.hw.engine_plan import EnginePlan
        if options.arith != "fixed" or options.float_weights:
            raise ValueError("the board backend trains the fixed-point datapath: use --arith "
                             "fixed and binary or ternary weights")
        EnginePlan(cfg)                                  # a network the engine can run
        self.cfg, self.ds, self.settings = cfg, ds, settings
        self.net = init_network(cfg, init_range=options.init_range)
        self.streams = StreamSet(cfg.seed)
        self.stats = {"samples": 0, "checks": 0, "answers_wrong": 0, "seconds": 0.0,
                      "mismatches": [], "engine_cycles": 0, "upload_seconds": None}
        self.uploaded = False
        self.device = device or connect(cfg, settings, options.lr_shifts(cfg))
        started = time.perf_counter()
        try:
            self.device.reset()
            self.device.load_network(cfg, [w.tolist() for w in self.net.weights],
                                     [b.tolist() for b in self.net.biases])
            self._check("after LOAD")
            self.device.seed(seed_states(cfg.seed))
        except BaseException:
            self.close()
            raise
        self.stats["seconds"] += time.perf_counter() - started

    def _check(self, where, hint=""):
        self.stats["checks"] += 1
        lines = compare_network(self.cfg, *self.device.read_network(self.cfg), self.net, where,
                                side="board")
        if lines:
            self._fail(lines, hint)

    def _fail(self, lines, hint=""):
        self.stats["mismatches"] += lines[:100]
        raise TrainingMismatch(f"board != golden{hint}:\n" + "\n".join(lines[:20]),
                               self.summary(bit_exact=False))

    def train_epoch(self, order, lr_shift, deterministic=False):
        step_cfg = epoch_config(self.cfg, self.cfg.check_lr_shift(lr_shift), deterministic)
        started = time.perf_counter()
        self.device.set_lr(lr_shift, deterministic)
        bar = None
        if self.settings.progress:
            from tqdm import tqdm
            bar = tqdm(total=len(order), unit="sample", desc=f"board lr 2^-{lr_shift}",
                       leave=False)
        every = self.settings.check_every
        try:
            self._train_samples(order, step_cfg, every, bar)
        except LinkError as exc:
            raise BoardError(f"the board stopped answering properly after "
                             f"{self.stats['samples']} samples ({exc}): check its cable and "
                             f"power, then run again (with --program to start afresh)") from None
        finally:
            if bar is not None:
                bar.close()
            self.stats["seconds"] += time.perf_counter() - started

    def train_keyed_epoch(self, order, lr_shift, key, deterministic=False):
        """The epoch from the board's own data set: DATA uploads the training set before the
        first one; LR, then one EPOCH trains ``order`` (``epoch_order(n, key)``, cut), with
        golden alongside in the same order; its answer (``correct``, ``clips`` per layer) and
        every weight are compared."""
        from fewmul.golden.mlp import train_step
        step_cfg = epoch_config(self.cfg, self.cfg.check_lr_shift(lr_shift), deterministic)
        started = time.perf_counter()
        size = len(self.ds.y_train)
        try:
            if not self.uploaded:
                self._upload()
            self.device.set_lr(lr_shift, deterministic)
            answer = self.device.epoch(size, len(order), key)
        except LinkError as exc:
            raise BoardError(f"the board's EPOCH failed after {self.stats['samples']} samples "
                             f"({exc}): check its cable and power, then run again") from None
        finally:
            self.stats["seconds"] += time.perf_counter() - started
        clips, correct = [0] * self.cfg.n_layers, 0
        for index in order:
            x, label = self.ds.x_train[index], int(self.ds.y_train[index])
            y = train_step(self.net, x, label, self.streams, step_cfg, clips)
            correct += int(np.argmax(y)) == label
        self.stats["samples"] += len(order)
        self.stats["engine_cycles"] += answer["cycles"]
        if answer["correct"] != correct or answer["clips"] != clips:
            self.stats["answers_wrong"] += 1
            self._fail([f"EPOCH of {len(order)} samples: board answered correct "
                        f"{answer['correct']}, clips {answer['clips']}; golden {correct}, "
                        f"{clips}"])
        self._check(f"after sample {self.stats['samples']} (end of epoch)")

    def _upload(self):
        """DATA: the training set into the board's data set, once."""
        upload_started = time.perf_counter()
        try:
            self.device.data(0, [[int(v) for v in x] for x in self.ds.x_train],
                             [int(v) for v in self.ds.y_train])
        except LinkError as exc:
            if exc.code == ErrorCode.BAD_ADDRESS:
                raise BoardError(f"the board holds fewer samples than the training set's "
                                 f"{len(self.ds.y_train)} ({exc}): build it with "
                                 f"--data-capacity {len(self.ds.y_train)} or more, or train "
                                 f"with --order host") from None
            raise
        self.uploaded = True
        self.stats["upload_seconds"] = time.perf_counter() - upload_started

    def _train_samples(self, order, step_cfg, every, bar):
        """TRAIN every sample of ``order``; golden alongside; answers and weights compared."""
        from fewmul.golden.mlp import train_step
        for k, index in enumerate(order):
            x, label = self.ds.x_train[index], int(self.ds.y_train[index])
            answer = self.device.train([int(v) for v in x], label)
            want = int(np.argmax(train_step(self.net, x, label, self.streams, step_cfg)))
            self.stats["samples"] += 1
            first = self.stats["samples"] == 1
            if len(answer) != 1 or answer[0] != want:
                self.stats["answers_wrong"] += 1
                self._fail([f"sample {self.stats['samples']}: board answered {list(answer)}, "
                            f"golden argmax {want}"], FIRST_SAMPLE_HINT if first else "")
            if first:
                self._check("after the first sample", hint=FIRST_SAMPLE_HINT)
            elif every and (k + 1) % every == 0 and k + 1 < len(order):
                self._check(f"after sample {self.stats['samples']}")
            if bar is not None:
                bar.update()
        self._check(f"after sample {self.stats['samples']} (end of epoch)")

    def predict(self, split, rule):
        from fewmul.golden.mlp import predict_fixed, predict_float
        x = self.ds.x_train if split == "train" else self.ds.x_test
        return (predict_float if rule == "paper" else predict_fixed)(self.net, x, self.cfg)

    def summary(self, bit_exact=True):
        st = self.stats
        return {"bit_exact": bit_exact, "port": self.settings.port, "baud": self.settings.baud,
                "samples": st["samples"], "checks": st["checks"],
                "mismatches": st["mismatches"], "seconds": st["seconds"],
                "upload_seconds": st["upload_seconds"],
                "engine_cycles": st["engine_cycles"] or None,
                "board_samples_per_second": st["samples"] / st["seconds"] if st["seconds"]
                else None}

    def close(self):
        self.device.transport.close()


def board_backend(cfg, ds, options, settings):
    """``(cfg, dataset, options, settings) -> BoardTrainer`` (settings: :class:`BoardSettings`)."""
    if not isinstance(settings, BoardSettings):
        raise ValueError("the board backend needs BoardSettings (at least the serial port)")
    return BoardTrainer(cfg, ds, options, settings)
