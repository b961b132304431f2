"""`traindoctor run`: a training script executed under observe-only hooks."""

from .runner import ScriptNotFound, run_script

__all__ = ["ScriptNotFound", "run_script"]
