"""The run schedule with its settling phase (``docs/datapath.md`` section 9)."""

import numpy as np
import pytest

from fewmul.config import Config
from fewmul.golden.mlp import init_network, train_epoch
from fewmul.golden.rng import StreamSet
from fewmul.golden.schedule import Schedule


def test_settling_phase_is_the_last_epochs_at_a_lower_rate():
    s = Schedule(epochs=60, lr_shift=5, lr_decay=15, settle_epochs=10, settle_shift=2)
    assert [s.lr(k) for k in (0, 14, 15, 49, 50, 59)] == [5, 5, 6, 8, 10, 10]
    assert [s.settling(k) for k in (0, 49, 50, 59)] == [False, False, True, True]
    assert s.lr_range() == 5
    cfg = s.step_config(Config(lr_shift=5, lr_range=5), 50)
    assert (cfg.lr_shift, cfg.sampling) == (10, "deterministic")
    assert s.step_config(Config(lr_shift=5), 49).sampling == "stochastic"
    plain = Schedule(epochs=3, lr_shift=6)
    assert [plain.lr(k) for k in range(3)] == [6, 6, 6] and not plain.settling(2)


@pytest.mark.parametrize("changes, message", [
    (dict(settle_epochs=61), "settle_epochs must be at most epochs (60), not 61"),
    (dict(settle_shift=-1), "settle_shift must be an integer >= 0, not -1"),
    (dict(epochs=0), "epochs must be an integer >= 1, not 0"),
    (dict(lr_decay=1.5), "lr_decay must be an integer >= 0, not 1.5"),
])
def test_bad_schedules_are_refused(changes, message):
    with pytest.raises(ValueError, match=f"^{message}$".replace("(", r"\(").replace(")", r"\)")):
        Schedule(**{**dict(epochs=60, lr_shift=5), **changes})


@pytest.mark.parametrize("weights", ["binary", "ternary"])
def test_settling_epoch_draws_as_many_numbers_and_uses_deterministic_signs(weights):
    """Section 6: the streams advance by whole steps whatever the sign mode; a settling epoch
    is a deterministic-sign epoch, and differs from a stochastic one."""
    cfg = Config(layers=(12, 8, 3), weights=weights, seed=3)
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 128, (20, 12)), rng.integers(0, 3, 20)
    s = Schedule(epochs=2, lr_shift=6, settle_epochs=1)
    nets, states = [], []
    for sampling in ("stochastic", "deterministic"):
        net, streams = init_network(cfg), StreamSet(cfg.seed)
        train_epoch(net, x, y, streams, cfg.replace(sampling=sampling))
        nets.append(net)
        states.append([st.state for st in streams.streams])
    assert states[0] == states[1]
    settled = init_network(cfg)
    train_epoch(settled, x, y, StreamSet(cfg.seed), s.step_config(cfg, 1))
    assert all(np.array_equal(a, b) for a, b in zip(settled.weights, nets[1].weights,
                                                    strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(nets[0].weights, nets[1].weights,
                                                        strict=True))
