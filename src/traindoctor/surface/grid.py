"""The loss over a grid of one or two of its inputs, with its gradient at every cell from one backward.

Each axis is a scalar input of the loss; the other inputs stay at their given values. The grid runs
vectorised (torch.func.vmap over the cells) where the loss allows it, else cell by cell; either way the
cells' losses are summed and differentiated once: the cells are independent, so the gradient of the sum
at a cell is that cell's gradient. The work is the grid's size, never a time budget."""

from __future__ import annotations

import numpy as np
import torch

from ..diagnosis.probes.loss_table import Call
from ..judge.surface import Grid


class GridError(Exception):
    """The loss could not be evaluated on the grid; the message says why."""


def compute(call: Call, axes: list[str], ranges: list[tuple[float, float]], n: int) -> Grid:
    # lo + (hi - lo) k / (n - 1) in float64: the middle of a symmetric range is exactly 0
    steps = torch.arange(n, dtype=torch.float64) / (n - 1)
    coords = [(lo + (hi - lo) * steps).to(torch.get_default_dtype()) for lo, hi in ranges]
    mesh = torch.meshgrid(*coords, indexing="ij")
    flat = [m.reshape(-1).clone().requires_grad_() for m in mesh]

    def point(*values: torch.Tensor) -> torch.Tensor:
        out = call(dict(zip(axes, values)))
        return out.mean() if out.dim() else out  # a per-element loss at one cell: its mean, as a reduction gives

    with torch.enable_grad():
        try:
            losses, vectorised = torch.func.vmap(point)(*flat), True
        except Exception:  # data-dependent control flow, .item(), in-place ops: cell by cell
            try:
                losses, vectorised = torch.stack([point(*(f[i] for f in flat)) for i in range(flat[0].numel())]), False
            except Exception as exc:
                raise GridError(f"the loss raised on the grid: {type(exc).__name__}: {exc}".splitlines()[0]) from None
        if losses.requires_grad:
            grads = torch.autograd.grad(losses.sum(), flat, allow_unused=True)
        else:  # the loss does not reach these inputs (a graph break): its gradient is zero
            grads = (None,) * len(flat)
    shape = mesh[0].shape
    return Grid(axes=list(axes), ranges=[(float(lo), float(hi)) for lo, hi in ranges],
                coords=[c.double().numpy() for c in coords], loss=losses.detach().double().reshape(shape).numpy(),
                grads=[np.zeros(shape) if g is None else g.detach().double().reshape(shape).numpy() for g in grads],
                vectorised=vectorised)
