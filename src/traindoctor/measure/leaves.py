"""The tensors a backward() gives gradients to, found in its graph — also those outside any module; and the
bounded walk of an autograd graph that finds them (measure/carried.py walks with it too).

A tensor created with requires_grad=True and kept in a plain attribute or a global (not an
nn.Parameter) is not in `model.parameters()`, so `torch.optim.Adam(model.parameters())` leaves it out
while backward() keeps filling its `.grad`. The graph knows it: every leaf that receives a gradient
has an AccumulateGrad node. Leaves seen at several sampled backward passes are persistent state, not
a batch made to require grad (adversarial inputs, saliency maps are new tensors at every step);
judge/loop.py compares them with the optimizers and with how their values moved.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import torch

from .descent import picked

MAX_NODES = 100_000  # a larger graph is not walked


def nodes(*starts: Any, max_nodes: int = MAX_NODES, below: Callable[[Any], bool] | None = None) -> Iterator[Any]:
    """The autograd nodes under `starts` (grad_fn nodes), each once, at most `max_nodes` of them; the walk does
    not descend under a node for which `below` says False."""
    seen: set[int] = set()
    stack = list(starts)
    while stack and len(seen) < max_nodes:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        yield node
        if below is None or below(node):
            stack.extend(fn for fn, _ in node.next_functions)


def gradient_leaves(loss: torch.Tensor) -> Iterator[torch.Tensor]:
    """The leaf tensors backward(loss) accumulates gradients into."""
    for node in nodes(loss.grad_fn):
        variable = getattr(node, "variable", None)
        if isinstance(variable, torch.Tensor):
            yield variable


@dataclass
class Leaf:
    ref: weakref.ref
    values: torch.Tensor  # a strided sample at first sight
    seen: int = 1  # sampled backward passes that gave it a gradient

    def alive(self) -> torch.Tensor | None:
        return self.ref()

    def moved(self) -> bool:
        t = self.ref()
        with torch.no_grad():
            return t is None or not torch.equal(picked(t), self.values)


def remember(leaves: dict[int, Leaf], loss: torch.Tensor, known: set[int]) -> None:
    """Count the leaves of `loss`'s graph other than `known` (the models' parameters)."""
    for t in gradient_leaves(loss):
        if id(t) in known:
            continue
        leaf = leaves.get(id(t))
        if leaf is not None and leaf.ref() is t:
            leaf.seen += 1
        else:
            with torch.no_grad():
                leaves[id(t)] = Leaf(weakref.ref(t), picked(t).clone())
