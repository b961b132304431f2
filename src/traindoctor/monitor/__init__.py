"""The long-run training monitor: see `traindoctor.Monitor`. `load_run` needs no torch."""

from .logdir import load_run

__all__ = ["Monitor", "TrainingAlarm", "load_run"]


def __getattr__(name: str):
    if name in ("Monitor", "TrainingAlarm"):  # imported on first use: `traindoctor report` does not load torch
        from . import core

        return getattr(core, name)
    raise AttributeError(f"module 'traindoctor.monitor' has no attribute {name!r}")
