"""The permutation test's positive control (diagnosis/experiments.py): the recorded targets re-paired with the
samples by a function of the inputs the model can represent, so that the test's power is measured, not assumed.

A real pairing that transfers no better than shuffled ones says nothing by itself: a relation one budget of
steps cannot teach (a tagger of neighbouring tokens, a task whose loss falls only after a plateau) transfers no
better either. The control asks the same question of a pairing known to be learnable: each batch's own targets
(whole rows: the class frequencies, values and layout stay the batch's) dealt out to its samples in the order of
a teacher's score of their inputs. The teacher is the model's own architecture at a random initialisation —
the initial weights with each tensor's entries shuffled, so it is neither the copy's starting point nor a
function of another family — and the score a fixed random projection of its outputs. Only when the copy,
trained from the same state with the same optimizer, steps and batches, carries that relation to held-out
batches does the test have the power to call the real pairing decoupled.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.utils._pytree import tree_leaves

from ..measure.copies import independent_copy, set_mode
from ..measure.tape import Tape
from .axis import batch_dim, folded
from .loss_independence import ELEMENTWISE
from .sandbox import same_noise
from .tree import Call, call

SEED = 0


def teacher(model: nn.Module, initial: dict[str, torch.Tensor]) -> nn.Module:
    """The model's architecture with its initial weights shuffled within each tensor (a private stream)."""
    out = set_mode(independent_copy(model), True)
    out.load_state_dict(initial)
    gen = torch.Generator().manual_seed(SEED)
    with torch.no_grad():
        for p in out.parameters():
            flat = p.detach().flatten()
            p.copy_(flat[torch.randperm(flat.numel(), generator=gen)].view_as(p))
    return out


def relabelled(teach: nn.Module, head: Any, batch: tuple[tuple, dict], ax: tuple[int, int],
               part: tuple[int, int] | None = None) -> dict[int, torch.Tensor] | None:
    """The head's per-sample targets (by the id of the recorded value) re-dealt to its samples — the sample with
    the k-th lowest teacher score gets the target row with the k-th lowest sum (or, for a component `part`:
    the target's place among them and a column, the k-th lowest value of that column). None when the head has no target with
    a row per sample, or the teacher scores most samples alike."""
    n, axis = ax
    targets = per_sample(head, n, axis) if isinstance(head, Tape) else []
    if part is None and targets and (dense := _by_position(teach, batch, targets[0], n)) is not None:
        return {**{id(t): t for t in targets}, id(targets[0]): dense}
    score = _score(teach, batch, n, axis)
    if not targets or score is None or len(score.unique()) < n // 2:
        return None
    if part is not None:
        if part[0] >= len(targets) or targets[part[0]].dim() != 2:
            return None
        key = targets[part[0]][:, part[1]].double()
    else:
        key = _rows(targets[0], n, axis).reshape(n, -1).double().sum(1)
    deal = torch.empty(n, dtype=torch.long)
    deal[torch.sort(score, stable=True).indices] = torch.sort(key, stable=True).indices
    return moved({id(t): t for t in targets}, deal, axis, n)


def _by_position(teach: nn.Module, batch: tuple[tuple, dict], target: torch.Tensor, n: int) -> torch.Tensor | None:
    """A floating target shaped as one of the teacher's outputs (a clean signal for a denoiser, a depth map, a
    regressed vector), each position's values re-dealt across the samples in the order of the teacher's output
    there: a relation as local as the model's own. One score for the whole row would be global — beyond a
    convolution's reach — and would fix only one direction of a long row. None for any other target."""
    if not target.is_floating_point() or target.dim() < 2 or target.shape[0] != n:
        return None
    with torch.no_grad(), same_noise(SEED):
        out = call(teach, Call(batch))
    leaf = next((x for x in tree_leaves(out) if isinstance(x, torch.Tensor) and x.shape == target.shape
                 and x.is_floating_point()), None)
    if leaf is None or not torch.isfinite(leaf).all():
        return None
    by, values = leaf.detach().reshape(n, -1), target.reshape(n, -1)
    dealt = torch.empty_like(values)
    dealt.scatter_(0, torch.sort(by, dim=0, stable=True).indices, torch.sort(values, dim=0, stable=True).values)
    return dealt.view_as(target)


def moved(targets: dict[int, torch.Tensor], order: torch.Tensor, axis: int, n: int) -> dict[int, torch.Tensor]:
    """Each of the batch's `n` samples' targets with its rows taken in `order` (row k gets row order[k]; fewer
    rows for a subset), in the recorded layout."""
    return {key: _unrows(_rows(t, n, axis).index_select(0, order), t, axis) for key, t in targets.items()}


def per_sample(head: Tape, n: int, axis: int) -> list[torch.Tensor]:
    """The recorded targets of torch loss functions, and the tensors a hand-written loss combines entry by entry
    with the outputs (`logp.gather(1, y)`, `pred - y`), that hold a row per sample (maybe flattened with a
    sequence dim, for a per-token loss)."""
    out: dict[int, torch.Tensor] = {}
    for _, const in [*head.target_consts(ELEMENTWISE), *head.entrywise_consts()]:
        t = const.value
        if t.dim() > 0 and _rows(t, n, axis) is not None:
            out.setdefault(id(t), t)
    return list(out.values())


def _rows(t: torch.Tensor, n: int, axis: int) -> torch.Tensor | None:
    """t samples-first: itself, or its dim 0 unflattened when it holds (batch, seq) flattened."""
    return t if t.shape[0] == n else folded(t, n, axis)


def _unrows(rows: torch.Tensor, recorded: torch.Tensor, axis: int) -> torch.Tensor:
    if rows.dim() == recorded.dim():
        return rows
    return (rows.movedim(0, 1) if axis == 1 else rows).reshape(-1, *recorded.shape[1:])


def derangement(n: int, gen: torch.Generator) -> torch.Tensor:
    """A random order in which no sample keeps its own place."""
    order = torch.randperm(n, generator=gen)
    fixed = order == torch.arange(n)
    if fixed.any():  # move each fixed point one place on among themselves (or swap with a neighbour)
        idx = fixed.nonzero().flatten()
        order[idx] = order[idx.roll(1)] if len(idx) > 1 else order[(idx + 1) % n]
        if len(idx) == 1:
            order[(idx + 1) % n] = idx
    return order


def _score(teach: nn.Module, batch: tuple[tuple, dict], n: int, axis: int) -> torch.Tensor | None:
    """A fixed random projection of the teacher's outputs, one number per sample (the same directions for every
    batch: one function of the inputs)."""
    with torch.no_grad(), same_noise(SEED):
        out = call(teach, Call(batch))
    gen = torch.Generator().manual_seed(SEED)
    score, seen = torch.zeros(n, dtype=torch.float64), False
    for leaf in tree_leaves(out):
        if not isinstance(leaf, torch.Tensor) or not leaf.is_floating_point():
            continue
        d = batch_dim(leaf, n, axis)
        if d is None:
            continue
        rows = leaf.detach().double().movedim(d, 0).reshape(n, -1)
        score += rows @ torch.randn(rows.shape[1], generator=gen, dtype=torch.float64)
        seen = True
    return score if seen and torch.isfinite(score).all() else None
