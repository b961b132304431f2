"""`traindoctor surface`: a loss function's landscape before training (grid, gradient field, table).

`traindoctor.surface(loss_fn, axes=..., ranges=...)` is the public call; importing this package makes
the attribute `traindoctor.surface` this module, so the module itself is callable and does the same.
"""

import sys
import types

from .analyze import SurfaceError, analyze
from .load import load

__all__ = ["SurfaceError", "analyze", "load"]


class _CallableModule(types.ModuleType):
    def __call__(self, loss_fn, axes=None, ranges=None, **options):
        """Analyse a loss function; see `analyze`."""
        return analyze(loss_fn, axes, ranges, **options)


sys.modules[__name__].__class__ = _CallableModule
