"""Outputs a model the optimizer holds computed under torch.no_grad(), handed to another model's training
call as its input: an encoder run in a DataLoader's collate_fn "to precompute features". The loss depends
on that model's weights — its output is the input the loss is computed from — yet they get no gradient:
the cut is the no_grad, and their never getting a gradient follows from it (judge/loop.py)."""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.utils._pytree import tree_leaves

KEPT = 64  # outputs remembered at once: a collate_fn's batch is used by the next training call
WATCHED_CALLS = 20  # no-grad calls watched per model: a feed shows at the first batches


@dataclass
class Feed:
    source: int  # id of the model called under no_grad
    location: dict[str, Any]  # the line that called it
    fed: int  # id of the model whose training call took its output
    calls: int = 1


@dataclass
class NoGradFeeds:
    made: dict[int, tuple[weakref.ref, int, dict[str, Any]]] = field(default_factory=dict)
    feeds: dict[int, Feed] = field(default_factory=dict)  # by source

    def produced(self, module: torch.nn.Module, output: Any, location: dict[str, Any]) -> None:
        """A no-grad call's floating-point outputs, of a model the optimizer holds and never trained."""
        for t in tree_leaves(output):
            if isinstance(t, torch.Tensor) and t.is_floating_point():
                self.made[id(t)] = (weakref.ref(t), id(module), location)
        while len(self.made) > KEPT:
            del self.made[next(iter(self.made))]

    def consumed(self, module: torch.nn.Module, args: tuple, kwargs: dict) -> None:
        """A training call of `module`: which of its inputs another model made under no_grad."""
        for t in tree_leaves((args, kwargs)):
            hit = self.made.get(id(t)) if isinstance(t, torch.Tensor) else None
            if hit is None or hit[0]() is not t or hit[1] == id(module):
                continue
            feed = self.feeds.get(hit[1])
            if feed is None:
                self.feeds[hit[1]] = Feed(hit[1], hit[2], id(module))
            else:
                feed.calls += 1
