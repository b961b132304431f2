"""Whether updates written by hand descend the loss they were computed from.

With no torch.optim optimizer there is no step to hook, but there is still a property to check: the
weights should move against the gradient that the last backward() left. After a sampled backward the
gradient and the weights are read (a strided sample of each tensor); at the next backward, the change of
the weights since then is compared with that gradient. A plain SGD step gives a cosine of 1 with the
descent direction, momentum and Adam-like rules stay well above 0; a step that adds the gradient gives
-1. judge/updates.py decides.
"""

from __future__ import annotations

import math

import torch

SAMPLE = 4096  # elements read per tensor, evenly strided


def picked(t: torch.Tensor) -> torch.Tensor:
    """A strided sample of at most SAMPLE of t's values (a view: clone it to keep it)."""
    flat = t.detach().reshape(-1)
    return flat[:: max(1, math.ceil(flat.numel() / SAMPLE))]


class DescentCheck:
    def __init__(self) -> None:
        self.pending: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] | None = None
        self.cosines: list[float] = []  # cos(change of the weights, -gradient), one per measured update
        self.still = 0  # backward passes after which the weights had not moved (gradient accumulation)

    def after_backward(self, params: list[torch.Tensor]) -> None:
        """The gradient a backward() just left, and the weights it was computed at."""
        with torch.no_grad():
            self.pending = [(p, picked(p).clone(), picked(p.grad).clone()) for p in params
                            if p.grad is not None and p.grad.layout == torch.strided]

    def before_backward(self) -> None:
        """The next backward() is about to run: how did the weights move since the last one?"""
        pending, self.pending = self.pending, None
        if not pending:
            return
        with torch.no_grad():
            change = torch.cat([(picked(p) - before).float() for p, before, _ in pending])
            grad = torch.cat([g.float() for _, _, g in pending])
            moved, steep = float(change.norm()), float(grad.norm())
            if not (math.isfinite(moved) and math.isfinite(steep)) or steep == 0:
                return
            if moved == 0:
                self.still += 1
                return
            self.cosines.append(float(-(change @ grad)) / (moved * steep))
