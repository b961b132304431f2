"""Copies of the user's model that are independent of it: for the probes (checkup, run) and the replay
that names the first non-finite module (run, Monitor).

`copy.deepcopy` copies functions by reference: minGPT keeps its MLP forward in a lambda closing
over the original's modules, so a deep copy's forward still runs the original's layers (its dropout
in train mode, its BatchNorm statistics, its gradients). `independent_copy` re-binds such closures
to the copy; what cannot be re-bound (a module reached through a global) is caught by the probes'
guard (diagnosis/guard.py).

Tensors of an autograd graph that the modules hold in plain attributes (an RL policy's saved
log-probabilities) are copied detached: deepcopy refuses them, and the original keeps its own.
A DataParallel or DistributedDataParallel wrapper is not copied, only the model inside: copying the
wrapper would register the copy with the process group.
"""

from __future__ import annotations

import copy
import types
from typing import Any

import torch
from torch import nn


def _rebound(fn: types.FunctionType, memo: dict[int, Any], seen: set[int]) -> types.FunctionType:
    """fn with its closure cells and defaults pointing at the copies of what deepcopy copied."""
    if id(fn) in seen:
        return fn
    seen.add(id(fn))

    def mapped(value: Any) -> Any:
        if isinstance(value, types.FunctionType):
            return _rebound(value, memo, seen)
        return memo.get(id(value), value)

    cells = fn.__closure__ or ()
    closure = tuple(types.CellType(mapped(c.cell_contents)) if _filled(c) else c for c in cells)
    defaults = tuple(mapped(d) for d in fn.__defaults__) if fn.__defaults__ else fn.__defaults__
    same_cells = all(a is b or a.cell_contents is b.cell_contents for a, b in zip(closure, cells) if _filled(b))
    if same_cells and all(a is b for a, b in zip(defaults or (), fn.__defaults__ or ())):
        return fn
    new = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__, defaults, closure or None)
    new.__kwdefaults__, new.__qualname__ = fn.__kwdefaults__, fn.__qualname__
    new.__dict__.update(fn.__dict__)
    return new


def _filled(cell: types.CellType) -> bool:
    try:
        cell.cell_contents
    except ValueError:  # an empty cell (a name assigned after the closure was made)
        return False
    return True


def _detached_graph_tensors(model: nn.Module) -> dict[int, torch.Tensor]:
    """id -> detached clone of every non-leaf tensor the modules hold in their attributes, directly or in
    lists, dicts and tuples. deepcopy refuses tensors of an autograd graph, and RL code keeps them in plain
    attributes until its update (pytorch/examples reinforce's `saved_log_probs`, actor_critic's
    `saved_actions`): a run stopped mid-episode leaves them filled. Other objects are not entered: a
    Lightning trainer or a dataset reachable from the model can be large, and this runs for every copy."""
    clones: dict[int, torch.Tensor] = {}
    seen: set[int] = set()
    stack: list[Any] = [model]
    while stack:
        value = stack.pop()
        if id(value) in seen:
            continue
        seen.add(id(value))
        if isinstance(value, torch.Tensor):
            if not value.is_leaf:
                clones[id(value)] = value.detach().clone()
        elif isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, (list, tuple, set, frozenset)):
            stack.extend(value)
        elif isinstance(value, nn.Module):
            stack.extend(vars(value).values())
    return clones


def independent_copy(model: nn.Module) -> nn.Module:
    if isinstance(model, (nn.DataParallel, nn.parallel.DistributedDataParallel)):
        model = model.module
    # the memo starts with detached clones of the graph tensors the modules hold: the copy gets those, the
    # original keeps its own (same objects, still in the graph)
    memo: dict[int, Any] = dict(_detached_graph_tensors(model))
    replica = copy.deepcopy(model, memo)  # memo: id(original) -> copy; it keeps the originals alive, so ids stay valid
    seen: set[int] = set()
    for module in replica.modules():
        for name, value in list(vars(module).items()):
            if isinstance(value, types.FunctionType):
                object.__setattr__(module, name, _rebound(value, memo, seen))
    return replica


def set_mode(model: nn.Module, training: bool) -> nn.Module:
    """`model.train(training)` on a copy; when a module of the script redefines `train` with another meaning
    (a forward-forward layer's `train(x_pos, x_neg)`), each module's `training` flag is set instead."""
    try:
        return model.train(training)
    except TypeError:
        for module in model.modules():
            module.training = training
        return model
