"""Two models in a game: which way each player's loss pulls the other model's score of generated samples.

Roles are found from what runs, never from names. A model (the generator, G) whose output tensor enters
another model's call (the discriminator, D) directly or detached (same storage) makes that call's output a
*score of generated samples*. At sampled backward() calls, the gradient of the loss with respect to those
scores is summed: its sign says whether this loss wants D to score generated samples higher or lower. The
optimizer that steps next names whose loss it was: D's (it holds D's parameters and none of G's) or G's.
In a game the two pull opposite ways (judge/adversaries.py decides).

The gradient is taken with `torch.autograd.grad(..., retain_graph=True)` on the user's graph before their
backward() runs: it reads the graph between the loss and the scores, accumulates into no `.grad`, consumes
no random numbers and leaves the graph as it was for the script's own backward().
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch import nn
from torch.utils._pytree import tree_flatten

# Backward calls that reach a score of generated samples and are measured: the first _FIRST, then every
# _EVERY-th, at most _MAX in all (each costs one backward through the loss head and one host read).
_FIRST = 12
_EVERY = 25
_MAX = 40
_KEPT_SCORES = 8  # scores of generated samples held between a model call and the next optimizer step


@dataclass
class Pull:
    """One measured backward(): which way its loss pushes D's scores of G's samples."""
    step: int
    role: str  # "discriminator" or "generator": whose optimizer stepped on this loss
    pull: float  # d(loss)/d(score), averaged over the scores' elements
    pair: tuple[int, int]  # (D id, G id)
    location: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Pending:
    step: int
    pull: float
    d: int
    g: int
    location: dict[str, Any]


class Adversaries:
    """Fed by the Recorder (main thread only); `pulls` and `pairs` are read by the judge."""

    def __init__(self) -> None:
        self.outputs: dict[int, list[weakref.ref]] = {}  # per model id: its latest call's output tensors
        self.scores: list[tuple[int, int, torch.Tensor]] = []  # (D id, G id, D's output) since the last step
        self.awaiting: tuple[int, int] | None = None  # (D id, G id) of the call under way
        self.reached = 0  # backward calls that reached a score of generated samples
        self.pending: list[_Pending] = []  # measured since the last step
        self.taken: tuple[str, list[Pull]] | None = None  # what the last step took, until the next backward
        self.pulls: list[Pull] = []
        self.pairs: set[tuple[int, int]] = set()  # (D id, G id) seen
        self.roles: dict[tuple[int, int, int], str | None] = {}  # (optimizer, D, G) -> role

    @property
    def done(self) -> bool:
        return len(self.pulls) >= _MAX

    def called(self, module: nn.Module, args: tuple, kwargs: dict) -> None:
        """A model call with gradients enabled: does it read another model's latest output?"""
        self.awaiting = None
        if not self.outputs:
            return
        storages = {t.untyped_storage().data_ptr() for t in tree_flatten((args, kwargs))[0]
                    if isinstance(t, torch.Tensor) and t.is_floating_point()}
        for g, refs in self.outputs.items():
            if g == id(module):
                continue
            for ref in refs:
                out = ref()  # alive: its storage cannot have been reused by another tensor
                if out is not None and out.untyped_storage().data_ptr() in storages:
                    self.awaiting = (id(module), g)
                    return

    def returned(self, module: nn.Module, output: Any) -> None:
        leaves = [t for t in tree_flatten(output)[0] if isinstance(t, torch.Tensor) and t.is_floating_point()]
        self.outputs[id(module)] = [weakref.ref(t) for t in leaves]
        if self.awaiting is None or self.awaiting[0] != id(module):
            return
        d, g = self.awaiting
        self.awaiting = None
        self.pairs.add((d, g))
        for t in leaves:
            if t.requires_grad and t.grad_fn is not None:
                self.scores.append((d, g, t))
        del self.scores[:-_KEPT_SCORES]

    def backward(self, loss: torch.Tensor, step: int, location: Callable[[], dict[str, Any]]) -> None:
        """Before the script's backward(): the loss's pull on the scores it reaches, at sampled calls."""
        self.taken = None
        if not self.scores or self.done:
            return
        self.reached += 1
        if self.reached > _FIRST and self.reached % _EVERY:
            return
        tensors = [t for _, _, t in self.scores]
        try:
            with torch._C.DisableTorchFunction():  # a loss head on tape (measure/tape.py) must not see these calls
                grads = torch.autograd.grad(loss, tensors, retain_graph=True, allow_unused=True)
                pulls = [(d, g, float(gr.double().mean())) for (d, g, _), gr in zip(self.scores, grads)
                         if gr is not None]
        except RuntimeError:  # a graph already freed, an op with no derivative: the script's backward decides
            return
        where = location() if pulls else {}
        self.pending += [_Pending(step, pull, d, g, where) for d, g, pull in pulls]

    def stepped(self, opt: torch.optim.Optimizer, params: Callable[[], dict[int, set[int]]]) -> None:
        """An optimizer steps: the losses measured since the last step were its. `params`: each model's
        parameter ids, asked for once per optimizer and pair. A second optimizer of the other role stepping on
        the same losses (one loss trains both models) makes them no player's: they are dropped."""
        if self.taken is not None and not self.pending:
            role = self._role(opt, *self.taken[1][0].pair, params)
            if role is not None and role != self.taken[0]:
                self.pulls = [p for p in self.pulls if all(p is not q for q in self.taken[1])]
            return
        if not self.pending:
            return
        pending, self.pending = self.pending, []
        taken: list[Pull] = []
        for m in pending:
            role = self._role(opt, m.d, m.g, params)
            if role is not None:
                taken.append(Pull(m.step, role, m.pull, (m.d, m.g), m.location))
        self.pulls += taken
        self.taken = (taken[0].role, taken) if taken else None

    def step_ended(self) -> None:
        self.scores.clear()

    def _role(self, opt: torch.optim.Optimizer, d: int, g: int,
              params: Callable[[], dict[int, set[int]]]) -> str | None:
        key = (id(opt), d, g)
        if key not in self.roles:
            held = {id(p) for group in opt.param_groups for p in group["params"]}
            owned = params()
            has_d, has_g = bool(held & owned.get(d, set())), bool(held & owned.get(g, set()))
            self.roles[key] = "discriminator" if has_d and not has_g else "generator" if has_g and not has_d else None
        return self.roles[key]
