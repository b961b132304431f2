"""`traindoctor sweeps`: paired-seed analysis of a hyperparameter sweep (runs x seeds).

`traindoctor.sweeps(path_or_dataframe, **overrides)` is the public call; importing this package makes
the attribute `traindoctor.sweeps` this module, so the module itself is callable and does the same.
"""

import sys
import types

from .analyze import analyze
from .readers import Runs, SweepError, read

__all__ = ["Runs", "SweepError", "analyze", "read"]


class _CallableModule(types.ModuleType):
    def __call__(self, source, **overrides):
        """Analyse a sweep; see `analyze`."""
        return analyze(source, **overrides)


sys.modules[__name__].__class__ = _CallableModule
