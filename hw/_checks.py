"""Parameter checks shared by the datapath components (messages quote the bad value)."""

from ..config import Config

__all__ = ["check_config"]


def check_config(cfg):
    if not isinstance(cfg, Config):
        raise ValueError(f"cfg must be a fewmul.config.Config, not {cfg!r}")
    if cfg.update_fraction != "truncate":
        raise ValueError(f"the hardware truncates the update's fraction (update_fraction "
                         f"'truncate'); update_fraction {cfg.update_fraction!r} is a golden-model "
                         f"option only")
    return cfg
