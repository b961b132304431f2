"""Models called only without gradients that are copies of another model (a target network, an EMA or
frozen teacher): does each follow the model it copies? Read from their parameters' values at its calls;
judge/targets.py decides.

A copy is a model with the same parameter shapes whose values equalled the other's at one of its calls
(or the other's before its first update). What the run can show of its following: its values changed
(it follows), it was written in place while its twin had moved and kept its values (a sync that copies
nothing new), or its twin, having moved, came back to its values (a sync copying the wrong way)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch import nn

from .descent import picked
from .stats import batch_tensors

_EVERY_CALL = 20  # calls compared in full; later ones on their first parameter, in full every _FULL_EVERY-th
_FULL_EVERY = 10


def _sample(tensors: Any) -> list[torch.Tensor]:
    return [picked(t) for t in tensors]


def _equal(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return len(a) == len(b) and all(x.shape == y.shape and torch.equal(x, y) for x, y in zip(a, b))


def _same_tensor(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a is b or (a.shape == b.shape and a.dtype == b.dtype and a.device == b.device and torch.equal(a, b))


@dataclass
class Watch:
    """One model called without gradients and never with them (so far)."""

    reference: list[torch.Tensor]  # its parameters' sampled values at its first call
    versions: int  # the sum of its parameters' in-place versions at its latest call
    location: dict[str, Any]
    first_step: int
    last_step: int
    calls: int = 0
    twin: int | None = None  # id of the model it is a copy of
    changed: bool = False  # its values left the reference: it follows
    away: bool = False  # its twin differed from it at the latest full comparison
    moved: int = 0  # full comparisons at which its twin differed from it
    returned: int = 0  # ... at which its twin, having differed, equalled it again
    returned_at: int = -1
    rewritten: int = 0  # calls after an in-place write to it, made while its twin differed, that left its values
    rewritten_at: int = -1
    written: bool = False  # written in place since its latest full comparison
    served: int = 0  # calls a backward followed before the next optimizer step: their outputs served a loss
    same_inputs: int = 0  # ... whose inputs were its twin's training inputs of that step
    pending: int = 0
    inputs: list[torch.Tensor] = field(default_factory=list)  # its latest call's tensors, until a backward


class Twins:
    def __init__(self) -> None:
        self.watches: dict[int, Watch] = {}

    def called(self, module: nn.Module, args: tuple, kwargs: dict, step: int, roots: dict[int, Any],
               initial_states: dict[int, Any], where: Callable[[], dict[str, Any]]) -> None:
        """A no-grad call of `module`, which has never run with gradients; `roots`: the models by id."""
        params = list(module.parameters())
        with torch.no_grad():
            w = self.watches.get(id(module))
            if w is None:
                w = self.watches[id(module)] = Watch([t.clone() for t in _sample(params)], 0, where(), step, step)
                w.versions = sum(p._version for p in params)
            w.calls += 1
            w.last_step = step
            w.pending += 1
            w.inputs = [t for _, t in batch_tensors(args, kwargs)]
            full = w.calls <= _EVERY_CALL or w.calls % _FULL_EVERY == 0
            mine = _sample(params) if full else _sample(params[:1])
            if not w.changed and not _equal(mine, w.reference[:len(mine)]):
                w.changed = True
            if w.twin is None and full:
                w.twin = _twin_of(module, mine, roots, initial_states)
            twin = roots.get(w.twin) if w.twin is not None else None
            versions = sum(p._version for p in params)
            w.written, w.versions = w.written or versions > w.versions, versions
            if twin is None:
                return
            theirs = list(twin.module.parameters())
            if not full and _equal(_sample(theirs[:1]), mine):  # its twin may have come back: look at all of it
                full, mine = True, _sample(params)
            if not full:
                return
            equal = _equal(_sample(theirs), mine)
            if w.written and w.away and not w.changed:
                w.rewritten += 1
                w.rewritten_at = step
            w.written = False
            if equal and w.away and not w.changed:
                w.returned += 1
                w.returned_at = step
            w.away = not equal
            w.moved += not equal

    def backward(self, roots: dict[int, Any]) -> None:
        """A backward: the pending calls served its loss. Were they on the twin's own inputs of this step
        (a teacher on the same batch), or on others (a target on next states)?"""
        for w in self.watches.values():
            if not w.pending:
                continue
            w.served += w.pending
            twin = roots.get(w.twin) if w.twin is not None else None
            if twin is not None and twin.calls_since_backward and twin.last_call is not None:
                theirs = [t for _, t in batch_tensors(*twin.last_call)]
                with torch.no_grad():
                    if any(_same_tensor(a, b) for a in w.inputs for b in theirs):
                        w.same_inputs += 1
            w.pending, w.inputs = 0, []

    def step(self) -> None:
        """An optimizer step: the calls no backward followed (acting, evaluating) served no loss."""
        for w in self.watches.values():
            w.pending, w.inputs = 0, []


def _twin_of(module: nn.Module, mine: list[torch.Tensor], roots: dict[int, Any],
             initial_states: dict[int, Any]) -> int | None:
    """The model `module` equals now, or equalled before that model's first update."""
    for key, info in roots.items():
        other = info.module
        if other is module:
            continue
        params = list(other.parameters())
        if [p.shape for p in params] != [p.shape for p in module.parameters()]:
            continue
        if _equal(_sample(params), mine):
            return key
        start = initial_states.get(key)
        if start is not None:
            names = [n for n, _ in other.named_parameters()]
            if all(n in start for n in names) and _equal(_sample(start[n] for n in names), mine):
                return key
    return None
