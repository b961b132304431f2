"""The long-run training monitor: see `traindoctor.Monitor`."""

from .core import Monitor, TrainingAlarm, load_run

__all__ = ["Monitor", "TrainingAlarm", "load_run"]
