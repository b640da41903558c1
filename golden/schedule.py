"""The run schedule (host side, ``docs/datapath.md`` section 9): each epoch's learning-rate shift
and sign mode, with the settling phase that makes the multiplier-free rule the trained one.

Epoch ``k`` (from 0) of an ``epochs``-epoch run trains with learning-rate shift
``lr_shift + floor(k / lr_decay)`` (constant when ``lr_decay`` is 0). The last ``settle_epochs``
epochs are the *settling phase*: they train with deterministic signs (``Config.sampling =
deterministic`` for those steps; on chip the LR command's ``LR_DETERMINISTIC`` flag) and
``settle_shift`` more learning-rate shift. The streams advance exactly as in any step (section
6), so a settling epoch consumes the same draws as a stochastic one.

Why: the paper trains with stochastic signs and tests with the real-valued weights; the chip
predicts with deterministic signs, which the stochastic training never sees, so its accuracy
lags and swings from epoch to epoch (``docs/results.md``, section ``mfree``). A few epochs of
training with the signs the chip predicts with close that gap.
"""

from dataclasses import dataclass

__all__ = ["Schedule", "SETTLE_EPOCHS", "SETTLE_SHIFT", "epoch_config"]

#: The tuned settling phase (``docs/results.md``, section ``mfree``): the last 10 epochs, at a
#: learning rate 4 times lower than the schedule's (needs ``lr_range`` 2 above the schedule's).
SETTLE_EPOCHS = 10
SETTLE_SHIFT = 2


def epoch_config(cfg, lr_shift, deterministic=False):
    """``cfg`` for the steps of an epoch at learning-rate shift ``lr_shift``, with deterministic
    sampling when it settles (what :func:`fewmul.golden.mlp.train_epoch` takes)."""
    changes = {"lr_shift": lr_shift}
    if deterministic:
        changes["sampling"] = "deterministic"
    return cfg.replace(**changes)


def _check(name, value, lo):
    if isinstance(value, bool) or not isinstance(value, int) or value < lo:
        raise ValueError(f"{name} must be an integer >= {lo}, not {value!r}")


@dataclass(frozen=True, kw_only=True)
class Schedule:
    """A run's learning-rate and sign-mode schedule (see the module docstring)."""

    epochs: int
    lr_shift: int
    lr_decay: int = 0
    settle_epochs: int = 0
    settle_shift: int = 0

    def __post_init__(self):
        _check("epochs", self.epochs, 1)
        _check("lr_shift", self.lr_shift, 0)
        _check("lr_decay", self.lr_decay, 0)
        _check("settle_shift", self.settle_shift, 0)
        _check("settle_epochs", self.settle_epochs, 0)
        if self.settle_epochs > self.epochs:
            raise ValueError(f"settle_epochs must be at most epochs ({self.epochs}), not "
                             f"{self.settle_epochs!r}")

    def settling(self, epoch):
        """Whether epoch ``epoch`` (from 0) trains with deterministic signs."""
        return epoch >= self.epochs - self.settle_epochs

    def lr(self, epoch):
        """The learning-rate shift of epoch ``epoch`` (from 0)."""
        shift = self.lr_shift + (epoch // self.lr_decay if self.lr_decay else 0)
        return shift + (self.settle_shift if self.settling(epoch) else 0)

    def step_config(self, cfg, epoch):
        """``cfg`` for the steps of epoch ``epoch``: its learning rate, and deterministic
        sampling when settling (what :func:`fewmul.golden.mlp.train_epoch` takes)."""
        return epoch_config(cfg, self.lr(epoch), self.settling(epoch))

    def lr_range(self):
        """The ``Config.lr_range`` the hardware needs for this schedule (from ``lr_shift``)."""
        return max(self.lr(epoch) for epoch in range(self.epochs)) - self.lr_shift
