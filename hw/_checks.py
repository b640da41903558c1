"""Parameter checks shared by the datapath components (messages quote the bad value)."""

from amaranth.lib import wiring

from ..config import Config

__all__ = ["check_config", "ConfigComponent"]


def check_config(cfg):
    if not isinstance(cfg, Config):
        raise ValueError(f"cfg must be a fewmul.config.Config, not {cfg!r}")
    return cfg


class ConfigComponent(wiring.Component):
    """A component built from a :class:`~fewmul.config.Config`: checks it first, then takes
    the ports :meth:`members` returns for it; ``cfg`` is the checked config."""

    def __init__(self, cfg):
        self._cfg = check_config(cfg)
        super().__init__(self.members(self._cfg))

    def members(self, cfg):
        raise NotImplementedError

    @property
    def cfg(self):
        return self._cfg
