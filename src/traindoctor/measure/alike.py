"""Weights whose units started as copies, whatever holds them: the slices of a tensor along one dimension all
equal before the first update (a constant or zero initialisation), and the share of what training changed in
them that differs between them.

Units with identical incoming weights compute the same value; if they also receive the same gradient, every
update keeps them identical. Which dimension holds the units of a tensor used as `x @ W` or F.linear(x, W) is
not known, so every dimension of two or more slices is a candidate: along one that is not the units, the slices
get unlike changes (each input its own), so only units moved alike keep a share near 0. Only a tensor
multiplied as a matrix has units.
"""

from __future__ import annotations

import sys
from itertools import islice
from typing import Iterable, Iterator

import torch

from .leaves import MAX_NODES


def equal_slices(t: torch.Tensor) -> dict[int, torch.Tensor]:
    """dim -> the first slice, for each dimension of ≥ 2 slices along which `t`'s slices are all equal (exactly:
    before any update, copies are bit-identical)."""
    if t.dim() < 2:
        return {}
    found = {}
    with torch.no_grad():
        v = t.detach()
        for dim, size in enumerate(v.shape):
            # The first two slices differ for any random initialisation: the whole tensor is read only for copies.
            if size >= 2 and torch.equal(v.select(dim, 0), v.select(dim, 1)) and bool((v == v.narrow(dim, 0, 1)).all()):
                found[dim] = v.select(dim, 0).clone()
    return found


def spread(change: torch.Tensor) -> float:
    """The share of the units' change (units, values) that differs between them: mean |c_j - mean c|² over
    mean |c_j|² (0: they moved as one; about 1 - 1/units for unrelated changes); 0 when nothing changed."""
    moved = float((change ** 2).sum(1).mean())
    return float(((change - change.mean(0)) ** 2).sum(1).mean()) / moved if moved > 0 else 0.0


def change(t: torch.Tensor, dim: int, first: torch.Tensor) -> torch.Tensor:
    """What changed in `t`'s slices along `dim` since they all equalled `first`, one slice a row."""
    with torch.no_grad():
        return t.detach().float().movedim(dim, 0).reshape(t.shape[dim], -1) - first.float().reshape(1, -1)


_TRANSPOSED = (torch.nn.ConvTranspose1d, torch.nn.ConvTranspose2d, torch.nn.ConvTranspose3d)
_TABLES = (torch.nn.Embedding, torch.nn.EmbeddingBag)


def units_dim(models: Iterable[torch.nn.Module]) -> dict[int, int]:
    """id -> the dimension holding the units, for the matrices torch's own layers hold (a Linear's or a
    convolution's output units on dim 0, a transposed convolution's on dim 1, an embedding's dimensions on
    dim 1): their layout is known, and along another dimension slices that started equal (a zero-initialised
    head's columns, one per input) are inputs, not units. A user-written module's own matrices are not here."""
    known: dict[int, int] = {}
    for model in models:
        for m in model.modules():
            if type(m).__module__.startswith("torch.nn"):
                dim = 1 if isinstance(m, _TRANSPOSED + _TABLES) else 0
                for p in m.parameters(recurse=False):
                    known.setdefault(id(p), dim)
    return known


_LOOKED_AT = 1000  # items of a global container searched: weights sit among few, a data set's list is long


def _members(value: object) -> Iterator[tuple[str, object]]:
    """What a global holds one level down, each with the suffix naming it: a dict's values, a list's items, a
    module's plain attributes (where `torch.nn` does not look for parameters)."""
    if isinstance(value, dict):
        yield from ((f"[{k!r}]", v) for k, v in islice(list(value.items()), _LOOKED_AT))
    elif isinstance(value, (list, tuple)):
        yield from ((f"[{i}]", v) for i, v in enumerate(islice(value, _LOOKED_AT)))
    elif isinstance(value, torch.nn.Module):
        for prefix, module in islice(value.named_modules(), _LOOKED_AT):
            yield from ((f".{prefix}.{k}" if prefix else f".{k}", v) for k, v in vars(module).items())


def script_names(tensors: Iterable[torch.Tensor]) -> dict[int, str]:
    """id -> the name the running script's globals give each tensor (`W1`, `params['w1']`, `weights[0]`,
    `model.w1`): a tensor outside every module's parameters has no other name."""
    wanted = {id(t) for t in tensors}
    names: dict[int, str] = {}
    main = sys.modules.get("__main__")
    for key, value in list(vars(main).items()) if main is not None else []:
        for suffix, v in [("", value), *_members(value)]:
            if id(v) in wanted:
                names.setdefault(id(v), key + suffix)
    return names


_MATRIX_OPS = ("MmBackward", "AddmmBackward", "BmmBackward", "BaddbmmBackward", "MvBackward", "AddmvBackward",
               "ConvolutionBackward", "LinearBackward")
_LAYOUT_OPS = ("TBackward", "TransposeBackward", "PermuteBackward", "ViewBackward", "ReshapeAliasBackward",
               "UnsafeViewBackward", "ExpandBackward", "ToCopyBackward", "CloneBackward", "UnsqueezeBackward",
               "SqueezeBackward")


def multiplied(out: torch.Tensor, max_nodes: int = MAX_NODES) -> set[int]:
    """The ids of the tensors `out` was computed from as an operand of a matrix product or convolution,
    directly or through transposes and views: what a weight is (an added position table or a scale has no
    units). At most `max_nodes` nodes of the graph are walked."""
    found: set[int] = set()
    stack, seen = [(out.grad_fn, False)], set()
    while stack and len(seen) < max_nodes:
        node, operand = stack.pop()
        if node is None or (node, operand) in seen:
            continue
        seen.add((node, operand))
        name = type(node).__name__.rstrip("0123456789")
        if name == "AccumulateGrad":
            if operand:
                found.add(id(node.variable))
            continue
        passes = name in _MATRIX_OPS or (operand and name in _LAYOUT_OPS)
        stack += [(nxt, passes) for nxt, _ in node.next_functions]
    return found
