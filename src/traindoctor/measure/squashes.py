"""sigmoid and tanh called as functions by the script's own code (torch.tanh in a hand-written RNN's loop,
F.sigmoid in a forward), measured at the weights training started from.

Module hooks see nn.Sigmoid and nn.Tanh layers (measure/activations.py); a function call has no module. The
share of a call's outputs within 1% of the bounds is read on every call made by the user's files before the
first optimizer step — while the weights are those the script initialised — and pooled per line. Calls made
inside torch or installed libraries (nn.Tanh's own, a recurrent layer's) are theirs to measure.
"""

from __future__ import annotations

import functools
import sys
from typing import Any, Callable

import torch
import torch.nn.functional as F

from .views import patch, users_file

# function -> (centre, half-range) of its outputs
_BOUNDS = {"tanh": (0.0, 1.0), "sigmoid": (0.5, 0.5)}


def pinned(name: str, out: torch.Tensor) -> torch.Tensor:
    """How many of `out`'s values lie within 1% of the function's bounds (on the device)."""
    centre, half = _BOUNDS[name]
    return ((out.detach() - centre).abs() > 0.98 * half).sum()


def watch_squashes(on_call: Callable[[str, torch.Tensor, str, int], None], wanted: Callable[[], bool]) -> Callable[[], None]:
    """Patch torch.tanh/sigmoid, Tensor.tanh/sigmoid and F.tanh/sigmoid so `on_call(name, out, file, line)`
    receives each floating result of a call the user's files make while `wanted()`; returns the undo."""
    targets = [(owner, name) for owner in (torch, torch.Tensor, F) for name in _BOUNDS]

    def wrap(original: Callable, name: str) -> Callable:
        @functools.wraps(original)
        def call(*args: Any, **kwargs: Any) -> Any:
            out = original(*args, **kwargs)
            if (isinstance(out, torch.Tensor) and out.is_floating_point() and out.requires_grad and wanted()
                    and not torch.compiler.is_compiling()):
                frame = sys._getframe(1)
                if users_file(frame.f_code.co_filename):
                    on_call(name, out, frame.f_code.co_filename, frame.f_lineno)
            return out
        return call

    return patch(targets, wrap)
