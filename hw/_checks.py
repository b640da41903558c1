"""Parameter checks shared by the datapath components (messages quote the bad value)."""

import functools

from amaranth._unused import MustUse
from amaranth.lib import wiring

from ..config import Config

__all__ = ["check_config", "refusable", "ConfigComponent"]


def check_config(cfg):
    if not isinstance(cfg, Config):
        raise ValueError(f"cfg must be a fewmul.config.Config, not {cfg!r}")
    return cfg


def refusable(init):
    """Decorates an ``__init__`` that may refuse its parameters: the half-built component it
    leaves behind is never used, and Amaranth would warn ``created but never used`` whenever
    the garbage collector gets to it (under ``-W error``: in some later, unrelated test). A
    refused component is silenced, with the flag Amaranth's own excepthook sets, and so are
    the sub-components it had already built."""
    @functools.wraps(init)
    def checked_init(self, *args, **kwargs):
        try:
            init(self, *args, **kwargs)
        except BaseException:
            for part in (self, *vars(self).values()):
                if isinstance(part, MustUse):
                    part._MustUse__silence = True
            raise
    return checked_init


class ConfigComponent(wiring.Component):
    """A component built from a :class:`~fewmul.config.Config`: checks it first, then takes
    the ports :meth:`members` returns for it; ``cfg`` is the checked config."""

    @refusable
    def __init__(self, cfg):
        self._cfg = check_config(cfg)
        super().__init__(self.members(self._cfg))

    def members(self, cfg):
        raise NotImplementedError

    @property
    def cfg(self):
        return self._cfg
