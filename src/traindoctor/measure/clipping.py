"""Seeing the gradient norm `clip_grad_norm_` measured, i.e. before it clipped."""

from __future__ import annotations

import functools
from typing import Any, Callable

import torch

# Both names: libraries call either `torch.nn.utils.clip_grad_norm_` or the module's own.
_OWNERS = (torch.nn.utils, torch.nn.utils.clip_grad)


def watch_clipping(on_total: Callable[[torch.Tensor], None]) -> Callable[[], None]:
    """Patch `clip_grad_norm_` so `on_total` receives each total norm it returns; returns the undo."""
    originals = [(owner, owner.clip_grad_norm_) for owner in _OWNERS]

    def wrap(original: Callable) -> Callable:
        @functools.wraps(original)
        def clip_grad_norm_(*args: Any, **kwargs: Any) -> torch.Tensor:
            total = original(*args, **kwargs)
            on_total(total)
            return total
        return clip_grad_norm_

    for owner, original in originals:
        owner.clip_grad_norm_ = wrap(original)

    def restore() -> None:
        for owner, original in originals:
            owner.clip_grad_norm_ = original
    return restore
