"""The permutation test of the differential diagnosis (diagnosis/experiments.py): do the targets follow the
inputs? Each recorded batch is left out in turn; a copy of the model from its state before its first update
— which has seen none of the batches, where the trained model has memorised them — is fitted the arms' budget
of steps on the other recorded batches in turn, and on the batch left out the loss with the real pairing of
inputs and targets is ranked among SHUFFLES pairings with the inputs moved to other samples. Under the null
each batch's rank is uniform, so several batches make a typical pairing unlikely to look special by chance.

A sample recorded in a training batch and in the batch left out (a later epoch) is left out of the ranking:
its pairing was memorised, and a memorised pairing transfers to the same sample whatever its label.

When the real pairing looks typical, the same test on the control pairing (diagnosis/pairing_control.py:
every batch's targets dealt by a teacher's score of its inputs), fitted with the same budget, measures the
test's power. The numbers are judged in judge/experiments.py. Budgets in steps; private random streams.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import torch
from torch import nn

from ..judge import experiments as rules
from ..measure.copies import independent_copy, set_mode
from ..measure.tape import Tape, cloned_batch
from . import components, pairing_control as control
from .axis import batch_dim, decide
from .components import Component
from .loss_independence import ELEMENTWISE
from .sandbox import same_noise
from .tree import Call, call, tree_map

SEED = 0

# One pairing of inputs and targets: a batch (its inputs maybe moved), and the recorded targets replaced (by
# the id of the recorded value) or None.
Pairing = tuple[tuple[tuple, dict], dict[int, torch.Tensor] | None]


def held_out(tapes: list[Any], fresh: Callable[[], nn.Module], initial: dict[str, torch.Tensor],
             optimizer: Callable[[nn.Module], torch.optim.Optimizer], steps: int,
             parts: Sequence[Component] = ()) -> dict[str, Any] | None:
    """The test's numbers for each batch left out: real and shuffled pairings, before and after the fit; with
    the control's when the real pairing looks typical. The same for each target component in `parts` moved
    alone (diagnosis/components.py), with its own control when its pairing looks typical and the whole's
    does not. None when no batch can be tested."""
    start = fresh()
    start.load_state_dict(initial)
    batches = [cloned_batch(*o.batch) for o in tapes]
    axes = [_axis(start, b) for b in batches]
    folds = {}  # batch left out -> the rows of it no training batch holds (None: all)
    for i, ax in enumerate(axes):
        unseen = _unseen(batches, i, axes) if ax is not None else []
        if unseen is None or len(unseen) >= 4:
            folds[i] = unseen

    def test(deal: Callable[[int], dict[int, torch.Tensor] | None],
             parts: Sequence[Component]) -> list[dict[str, Any]] | None:
        out = []
        labels = {i: deal(i) for i in range(len(tapes))}
        for i, keep in folds.items():
            pairings = _pairings(start, tapes[i], batches[i], labels[i], keep, axes[i])
            if pairings is None:
                continue
            model = _fitted(fresh, initial, optimizer, tapes, batches, labels, [j for j in labels if j != i], steps)
            if model is None:
                return None
            out.append({**_ranked(start, model, tapes[i], pairings),
                        "samples": len(keep) if keep is not None else axes[i][0],
                        "moved": "inputs" if pairings[1][0] is not pairings[0][0] else "targets",
                        "components": {components.label(p): _ranked(start, model, tapes[i], c) for p in parts
                                       if (c := _moved_part(tapes[i], batches[i], labels[i], keep, axes[i], p))}})
        return out or None

    measured = test(lambda i: None, parts)
    if measured is None:
        return None
    teach = control.teacher(start, initial)

    def controlled(part: Component | None) -> list[dict[str, Any]] | None:
        dealt = [control.relabelled(teach, o, b, ax, part) if ax is not None else None
                 for o, b, ax in zip(tapes, batches, axes)]
        if not all(d is not None for d in dealt):
            return None
        out = test(lambda i: dealt[i], [part] if part is not None else [])
        for b in out or []:
            b.pop("moved")
            if part is None:
                b.pop("components")
        return out
    held = {**measured[0], "batches": measured, "trained_on": len(tapes) - 1,
            "moved": [b.pop("moved") for b in measured], "control": None}
    parted = {k: [b["components"].pop(k) for b in measured] for k in list(measured[0]["components"])}
    for b in measured:
        b.pop("components")
    if rules.typical(measured):
        held["control"] = controlled(None)
    elif parted:
        held["components"] = {}
        for part in parts:
            k = components.label(part)
            if k in parted and len(parted[k]) == len(measured) and rules.typical(parted[k]):
                c = controlled(part)
                held["components"][k] = {"batches": parted[k],
                                         "control": [b["components"][k] for b in c] if c else None}
    return held


def unpaired(model: nn.Module, head: Any) -> dict[str, Any] | None:
    """On the model as training left it and the head's batch: the loss with the real pairing, with the inputs
    moved to other samples (SHUFFLES pairings) and with each target component moved alone. None without a
    batch axis or per-sample targets."""
    batch = cloned_batch(*head.batch)
    ax = _axis(model, batch)
    if ax is None or not isinstance(head, Tape):
        return None
    pairings = _pairings(model, head, batch, None, None, ax)
    if pairings is None:
        return None
    losses = [_paired(model, head, p) for p in pairings]
    parts = {}
    for part in components.of(head, *ax):
        moved = _moved_part(head, batch, None, None, ax, part)
        if moved is not None:
            parts[part] = [_paired(model, head, p) for p in moved[1:]]
    return {"real": losses[0], "shuffled": losses[1:], "components": parts}


def _ranked(start: nn.Module, model: nn.Module, head: Any, pairings: list[Pairing]) -> dict[str, Any]:
    before, after = ([_paired(mod, head, p) for p in pairings] for mod in (start, model))
    return {"real_before": before[0], "shuffled_before": before[1:], "real_after": after[0],
            "shuffled_after": after[1:]}


def _moved_part(head: Any, batch: tuple[tuple, dict], targets: dict[int, torch.Tensor] | None,
                keep: list[int] | None, ax: tuple[int, int], part: Component) -> list[Pairing] | None:
    """The batch's pairing (with `targets` in place of the recorded ones, when given; only the `keep` samples,
    when given), then SHUFFLES with one target component moved to other samples. None without the component."""
    if not isinstance(head, Tape):
        return None
    n = ax[0]
    targets = {**{id(t): t for t in control.per_sample(head, n, ax[1])}, **(targets or {})}
    key = components.key(head, n, ax[1], part)
    if key is None:
        return None
    if keep is not None:
        order = torch.tensor(keep)
        batch, targets = _take(batch, order, ax), control.moved(targets, order, ax[1], n)
        n = len(keep)
    gen = torch.Generator().manual_seed(SEED)
    return [(batch, targets), *((batch, components.moved(targets, key, part[1], control.derangement(n, gen)))
                                for _ in range(rules.SHUFFLES))]


def shuffled(model: nn.Module, batch: tuple[tuple, dict]) -> list[tuple[tuple, dict]] | None:
    """The batch with every input tensor's samples in another order (the same for all inputs): each sample's
    inputs meet another sample's targets, in SHUFFLES different pairings. None without a batch axis, or with
    fewer samples than pairings."""
    ax = _axis(model, batch)
    if ax is None:
        return None
    gen = torch.Generator().manual_seed(SEED)  # a private stream: the script's RNG is not drawn from
    # Random pairings, not rolls: a pipeline broken by an offset (labels shifted by k rows) would be re-paired
    # by the roll of k.
    return [_take(batch, derangement, ax) for derangement in
            (control.derangement(ax[0], gen) for _ in range(rules.SHUFFLES))]


def _axis(model: nn.Module, batch: tuple[tuple, dict]) -> tuple[int, int] | None:
    """(samples, axis) of the batch's inputs; None without a batch axis or with fewer than 4 samples."""
    with torch.no_grad():
        ax = decide(set_mode(independent_copy(model), False), Call(batch), None)
    return (ax.size, ax.axis) if ax.axis is not None and ax.size >= 4 else None


def _take(batch: tuple[tuple, dict], order: torch.Tensor, ax: tuple[int, int]) -> tuple[tuple, dict]:
    """The batch's inputs with their samples taken in `order` (a subset, or all in another order)."""
    def move(t: torch.Tensor, _: str) -> torch.Tensor:
        dim = batch_dim(t, ax[0], ax[1])
        return t.index_select(dim, order) if dim is not None else t.clone()
    return tree_map(batch, move)


def _rows(batch: tuple[tuple, dict], ax: tuple[int, int]) -> list[bytes]:
    """Each sample's inputs, as bytes: the same sample recorded in two batches gives the same bytes."""
    parts: list[list[bytes]] = [[] for _ in range(ax[0])]

    def add(t: torch.Tensor, _: str) -> torch.Tensor:
        dim = batch_dim(t, ax[0], ax[1])
        if dim is not None:
            rows = t.detach().movedim(dim, 0).reshape(ax[0], -1).cpu()
            for k in range(ax[0]):
                parts[k].append(rows[k].numpy().tobytes())
        return t
    tree_map(batch, add)
    return [b"".join(p) for p in parts]


def _unseen(batches: list[tuple[tuple, dict]], i: int, axes: list[tuple[int, int] | None]) -> list[int] | None:
    """The samples of batch i that none of the other batches holds; None when none is held elsewhere."""
    seen = {r for j, ax in enumerate(axes) if j != i and ax is not None for r in _rows(batches[j], ax)}
    keep = [k for k, r in enumerate(_rows(batches[i], axes[i])) if r not in seen]
    return None if len(keep) == axes[i][0] else keep


def _pairings(model: nn.Module, head: Any, batch: tuple[tuple, dict], targets: dict[int, torch.Tensor] | None,
              keep: list[int] | None, ax: tuple[int, int]) -> list[Pairing] | None:
    """The batch's pairing (with `targets` in place of the recorded ones, when given; only the `keep` samples,
    when given), then SHUFFLES with its inputs moved to other samples — or, when the inputs cannot be moved
    (lengths that must stay sorted for packing), with its targets moved. None when neither runs."""
    n = ax[0]
    if keep is not None or targets is not None:
        if not isinstance(head, Tape):
            return None
        recorded = {id(t): t for t in control.per_sample(head, n, ax[1])}
        targets = {**recorded, **(targets or {})}
        if keep is not None:
            order = torch.tensor(keep)
            batch, targets = _take(batch, order, ax), control.moved(targets, order, ax[1], n)
            n = len(keep)
    real: Pairing = (batch, targets)
    gen = torch.Generator().manual_seed(SEED)
    orders = [control.derangement(n, gen) for _ in range(rules.SHUFFLES)]
    inputs = [(_take(batch, o, (n, ax[1])), targets) for o in orders]
    retargeted = [(batch, t) for t in _retargeted(head, targets, orders, ax[1])]
    for pairings in (inputs, retargeted):
        try:
            if pairings and math.isfinite(_paired(model, head, real)) and math.isfinite(_paired(model, head, pairings[0])):
                return [real, *pairings]
        except Exception:  # a head that cannot be replayed on these samples: the next way, or no test
            pass
    return None


def _retargeted(head: Any, targets: dict[int, torch.Tensor] | None, orders: list[torch.Tensor],
                axis: int) -> list[dict[int, torch.Tensor]]:
    """When the inputs cannot be moved, the per-sample targets in the same orders: each sample's outputs meet
    another sample's targets, as moving the inputs would have made them. Empty without a loss head on tape."""
    if targets is None:
        if not isinstance(head, Tape):
            return []
        n = orders[0].numel()
        targets = {id(t): t for _, t in head.targets(ELEMENTWISE) if t.dim() > 0 and t.shape[0] == n}
    if not targets:
        return []
    n = orders[0].numel()
    return [control.moved(targets, o, axis, n) for o in orders]


def _paired(model: nn.Module, head: Any, pairing: Pairing) -> float:
    with torch.no_grad(), same_noise(SEED):
        return float(_loss(head, model, *pairing))


def _loss(head: Any, model: nn.Module, batch: tuple[tuple, dict], targets: dict[int, torch.Tensor] | None) -> torch.Tensor:
    params = dict(model.named_parameters())
    if targets is None:
        return head.loss_of(call(model, Call(batch)), params)
    return head.loss_of(call(model, Call(batch)), params, constants=targets)


def _fitted(fresh: Callable[[], nn.Module], initial: dict[str, torch.Tensor],
            optimizer: Callable[[nn.Module], torch.optim.Optimizer], tapes: list[Any],
            batches: list[tuple[tuple, dict]], labels: dict[int, dict[int, torch.Tensor] | None], train: list[int],
            steps: int) -> nn.Module | None:
    """A copy from the initial state fitted `steps` steps on the `train` batches in turn, with their recorded
    targets or the control's (`labels`); None when the loss goes non-finite."""
    model = fresh()
    model.load_state_dict(initial)
    opt = optimizer(model)
    with same_noise(SEED), torch.enable_grad():
        for step in range(steps):
            i = train[step % len(train)]
            opt.zero_grad(set_to_none=True)
            loss = _loss(tapes[i], model, batches[i], labels[i])
            if not math.isfinite(float(loss.detach())):
                return None
            loss.backward()
            opt.step()
    return model
