"""The permutation test one target component at a time (diagnosis/permutation.py): a target with a row of a few
values per sample — a keypoint's (x, y), a box's (cx, cy, w, h), several regressed quantities — is several
targets, and each must follow its own sample's inputs. An augmentation that mirrors the image and not the
keypoint's x, or one column read in another order, decouples one component while the others still teach: the
loss falls, the whole pairing beats every shuffle, and only the moved component's pairing is a typical one.

Each component is moved alone: its values dealt to other samples while the other components stay, and the loss
of that pairing set against the real one's. Which components to question is asked first of the model as
training left it (permutation.unpaired): one it learned to read from the inputs gives its real pairing the
lowest loss.
"""

from __future__ import annotations

from typing import Any

import torch

from ..judge.thresholds import COMPONENTS_MAX
from ..measure.tape import Tape
from . import pairing_control as control

# A component: (the target's place among the head's per-sample targets, its index along the last dim) — a
# place, not an id: each recorded batch has its own target tensors.
Component = tuple[int, int]


def of(head: Any, n: int, axis: int) -> list[Component]:
    """The components of the head's per-sample targets: floating targets of shape (samples, k), 2 <= k <=
    COMPONENTS_MAX. A dense target (a mask, a signal) is a field over positions, questioned by the
    displacement search instead; a class index has one component."""
    if not isinstance(head, Tape):
        return []
    return [(k, d) for k, t in enumerate(control.per_sample(head, n, axis))
            if t.dim() == 2 and t.shape[0] == n and t.is_floating_point() and 2 <= t.shape[1] <= COMPONENTS_MAX
            for d in range(t.shape[1])]


def key(head: Any, n: int, axis: int, part: Component) -> int | None:
    """The id of the recorded target tensor the component belongs to on this head; None when it has none."""
    targets = control.per_sample(head, n, axis) if isinstance(head, Tape) else []
    t = targets[part[0]] if part[0] < len(targets) else None
    return id(t) if t is not None and t.dim() == 2 and part[1] < t.shape[1] else None


def moved(targets: dict[int, torch.Tensor], key: int, column: int, order: torch.Tensor) -> dict[int, torch.Tensor]:
    """The targets with one column of the tensor `key` taken in `order` (row k gets row order[k]'s), the rest in
    place."""
    t = targets[key].clone()
    t[:, column] = targets[key][order, column]
    return {**targets, key: t}


def label(part: Component) -> str:
    return f"target[:, {part[1]}]" if part[0] == 0 else f"target {part[0]}[:, {part[1]}]"
