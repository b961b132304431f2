"""Two models in a game: which way each player's loss pulls the other model's score of generated samples.

Roles are found from what runs, never from names. A model (the generator, G) whose output tensor enters
another model's call (the discriminator, D) directly or detached (same storage) makes that call's output a
*score of generated samples*. At sampled backward() calls, the gradient of the loss with respect to those
scores is summed: its sign says whether this loss wants D to score generated samples higher or lower. The
optimizer that steps next names whose loss it was: D's (it holds D's parameters and none of G's) or G's.
A discriminator's loss also scores other inputs (real data): it learns to tell the two apart, which a
head trained on an encoder's features does not. In a game the two losses pull opposite ways
(judge/adversaries.py decides).

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

# Backward calls with a score of generated samples in reach that are measured: the first _FIRST, then every
# _EVERY-th, counted apart for scores of samples still attached to the generator's graph (its step, usually)
# and of detached ones (the discriminator's), so that a critic stepped 5 times per generator step leaves
# both sides measured; at most _MAX in all (each costs one backward through the loss head and a host read).
_FIRST = 12
_EVERY = 25
_MAX = 48
_KEPT_SCORES = 8  # scores of generated samples held between a model call and the next optimizer step
# A model's latest output is held (detached: its storage, not its graph) up to this size, so that a copy
# detached from it (`G(z).detach()`) is still recognised after the output itself is dropped; larger ones
# are followed only while the script holds them.
_HELD_BYTES = 16 * 2**20


@dataclass
class Pull:
    """One measured backward(): which way its loss pushes D's scores of G's samples."""
    step: int
    role: str  # "discriminator" or "generator": whose optimizer stepped on this loss
    pull: float  # d(loss)/d(score), averaged over the scores' elements
    pair: tuple[int, int]  # (D id, G id)
    with_data: bool  # the same loss also reached D's score of other inputs (real data): D learns to tell them apart
    location: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Pending:
    step: int
    pull: float
    d: int
    g: int
    with_data: bool
    location: dict[str, Any]


class Adversaries:
    """Fed by the Recorder (main thread only); `pulls` and `pairs` are read by the judge."""

    def __init__(self) -> None:
        self.outputs: dict[int, list[Callable[[], torch.Tensor | None]]] = {}  # per model id: its latest outputs
        self.scores: list[tuple[int, int, torch.Tensor]] = []  # (D id, G id, D's output) since the last step
        self.attached = False  # one of those scores is of samples still attached to G's graph
        self.others: list[tuple[int, torch.Tensor]] = []  # (D id, D's output on inputs not from G) since then
        self.awaiting: tuple[int, int, bool] | None = None  # (D id, G id, attached) of the call under way
        self.reached = {False: 0, True: 0}  # backward calls with such scores in reach, by `attached`
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
        storages = {t.untyped_storage().data_ptr(): t.requires_grad for t in tree_flatten((args, kwargs))[0]
                    if isinstance(t, torch.Tensor) and t.is_floating_point()}
        for g, refs in self.outputs.items():
            if g == id(module):
                continue
            for ref in refs:
                out = ref()  # alive: its storage cannot have been reused by another tensor
                ptr = out.untyped_storage().data_ptr() if out is not None else None
                if ptr in storages:
                    self.awaiting = (id(module), g, storages[ptr])
                    return

    def returned(self, module: nn.Module, output: Any) -> None:
        leaves = [t for t in tree_flatten(output)[0] if isinstance(t, torch.Tensor) and t.is_floating_point()]
        self.outputs[id(module)] = [_holder(t) for t in leaves]
        if self.awaiting is None or self.awaiting[0] != id(module):
            if any(d == id(module) for d, _ in self.pairs):
                self.others += [(id(module), t) for t in leaves if t.requires_grad and t.grad_fn is not None]
                del self.others[:-_KEPT_SCORES]
            return
        d, g, attached = self.awaiting
        self.awaiting = None
        self.pairs.add((d, g))
        for t in leaves:
            if t.requires_grad and t.grad_fn is not None:
                self.scores.append((d, g, t))
                self.attached |= attached
        del self.scores[:-_KEPT_SCORES]

    def backward(self, loss: torch.Tensor, step: int, location: Callable[[], dict[str, Any]]) -> None:
        """Before the script's backward(): the loss's pull on the scores it reaches, at sampled calls."""
        self.taken = None
        if not self.scores or self.done:
            return
        n = self.reached[self.attached] = self.reached[self.attached] + 1
        if n > _FIRST and n % _EVERY:
            return
        tensors = [t for _, _, t in self.scores] + [t for _, t in self.others]
        try:
            with torch._C.DisableTorchFunction():  # a loss head on tape (measure/tape.py) must not see these calls
                grads = torch.autograd.grad(loss, tensors, retain_graph=True, allow_unused=True)
                pulls = [(d, g, float(gr.double().mean())) for (d, g, _), gr in zip(self.scores, grads)
                         if gr is not None]
        except RuntimeError:  # a graph already freed, an op with no derivative: the script's backward decides
            return
        with_data = {d for (d, _), gr in zip(self.others, grads[len(self.scores):]) if gr is not None}
        where = location() if pulls else {}
        self.pending += [_Pending(step, pull, d, g, d in with_data, where) for d, g, pull in pulls]

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
                taken.append(Pull(m.step, role, m.pull, (m.d, m.g), m.with_data, m.location))
        self.pulls += taken
        self.taken = (taken[0].role, taken) if taken else None

    def step_ended(self) -> None:
        self.scores.clear()
        self.others.clear()
        self.attached = False

    def _role(self, opt: torch.optim.Optimizer, d: int, g: int,
              params: Callable[[], dict[int, set[int]]]) -> str | None:
        key = (id(opt), d, g)
        if key not in self.roles:
            held = {id(p) for group in opt.param_groups for p in group["params"]}
            owned = params()
            has_d, has_g = bool(held & owned.get(d, set())), bool(held & owned.get(g, set()))
            self.roles[key] = "discriminator" if has_d and not has_g else "generator" if has_g and not has_d else None
        return self.roles[key]


def _holder(t: torch.Tensor) -> Callable[[], torch.Tensor | None]:
    if t.numel() * t.element_size() <= _HELD_BYTES:
        alias = t.detach()
        return lambda: alias
    return weakref.ref(t)
