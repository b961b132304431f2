"""Recurrent state cut within one step: a module called again and again inside one forward (a cell in a loop
over time, a layer that keeps its state on `self`) whose later calls read what its earlier calls computed —
but through a cut (`h.detach()` at every step, only the cell state `c` detached, a state stored on `self`
detached after each call). The loss depends on the earlier calls forward, through the state; the backward
carries nothing from one call to the one before, so the weights learn one step deep while every parameter
still gets a gradient (the zero-gradient-path experiment never fires).

On a copy of the model, with its loss head on tape and the recorded batch, one forward runs under the
gradient-path experiment's TorchFunctionMode (gradient_path.Cuts: the calls where gradient stops and what is
computed from them) with hooks on every module holding weights. At each call with gradient after a module's
first, the values it reads — its arguments and the tensors it keeps in its attributes and buffers — are
sorted: an output of its own earlier call passed whole (the graph carried on), or a value without gradient
computed past a cut of such an output, or of a tensor one of its earlier calls computed (a state it stored
detached). Then, per module so fed (at most MAX_MODULES), those cut values are moved at every call that reads
them, and the loss compared with its repeat noise: does the loss depend on the state that no gradient
crosses?

A state carried between steps and detached there (truncated backpropagation through time) comes in with the
batch: no call of this forward made it. A detached *prediction* fed back as the next input (free-running
decoding) is an output the loss reads as-is, without a layer between: an input choice, reported as such
(`as_is`); an index (a token chosen by argmax) carries no gradient to cut. judge/gradient_path.py decides.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch import nn
from torch.utils._pytree import tree_flatten, tree_unflatten

from ..judge import gradient_path as rules
from ..judge.thresholds import GRADIENT_PROBE_COARSE
from ..measure.copies import independent_copy, set_mode
from ..measure.leaves import nodes
from ..measure.recorder import internal_calls
from ..measure.tape import Tape, cloned_batch
from ..vocabulary.finding import Finding
from .gradient_path import _VIEWS, SEED, Cuts, direction, started_from
from .guard import guarded
from .sandbox import isolated, same_noise
from .tree import Call, call

NAME = "state-gradient-path"
MAX_MODULES = 4  # modules whose cut state is moved, one forward each
HELD_ITEMS = 16  # a tuple or list kept on a module with more items is no state of its calls (a cache, a table)
_BASE = frozenset(vars(nn.Module()))  # nn.Module's own attributes: hooks, flags, the parameter dicts


@dataclass
class _Read:
    call: int  # the module's call that reads it (0: its first in the forward)
    place: tuple  # ("arg", leaf index in (args, kwargs)) or ("attr", attribute name, leaf index)
    how: str  # the cut: `detach`, `.data`, an op under torch.no_grad()
    where: dict[str, Any]
    source: torch.Tensor  # the gradient-carrying tensor it was cut from (held until the loss's graph is read)


@dataclass
class _Module:
    name: str
    calls: int = 0
    outputs: dict[int, weakref.ref] = field(default_factory=dict)  # its calls' gradient-carrying outputs, by id
    storages: dict[int, weakref.ref] = field(default_factory=dict)  # ... and by storage (a view of one)
    made: set[int] = field(default_factory=set)  # the cuts made during its calls (indices into Cuts.cuts)
    started: list[int] = field(default_factory=list)  # the number of cuts when each active call began
    fed: int = 0  # calls with gradient, after its first, that read an output or a state of an earlier call
    cut: int = 0  # ... of which read one past a cut
    whole: int = 0  # ... of which read one with its graph (an output passed on whole)
    reads: list[_Read] = field(default_factory=list)


class _Watch:
    """The hooks on the copy's modules that hold weights, during one forward under `cuts`."""

    def __init__(self, model: nn.Module, cuts: Cuts):
        self.cuts = cuts
        self.modules = {id(m): _Module(n or type(m).__name__) for n, m in model.named_modules()
                        if next(m.parameters(), None) is not None}
        self.handles = [h for n, m in model.named_modules() if id(m) in self.modules for h in (
            m.register_forward_pre_hook(self._called, with_kwargs=True),
            m.register_forward_hook(self._returned, with_kwargs=True))]

    def remove(self) -> None:
        for h in self.handles:
            h.remove()

    def _called(self, module: nn.Module, args: tuple, kwargs: dict) -> None:
        with torch._C.DisableTorchFunction():  # our reads are no calls of the user's
            st = self.modules[id(module)]
            n, st.calls = st.calls, st.calls + 1
            st.started.append(len(self.cuts.cuts))
            if n and torch.is_grad_enabled():
                self._read(st, n, module, args, kwargs)

    def _returned(self, module: nn.Module, args: tuple, kwargs: dict, output: Any) -> None:
        with torch._C.DisableTorchFunction():
            st = self.modules[id(module)]
            st.made.update(range(st.started.pop(), len(self.cuts.cuts)))
            for t in tree_flatten(output)[0]:
                if isinstance(t, torch.Tensor) and t.requires_grad and t.is_floating_point() and t.numel():
                    st.outputs[id(t)] = st.storages[t.untyped_storage().data_ptr()] = weakref.ref(t)

    def _read(self, st: _Module, n: int, module: nn.Module, args: tuple, kwargs: dict) -> None:
        places: list[tuple[tuple, Any]] = [(("arg", i), t) for i, t in enumerate(tree_flatten((args, kwargs))[0])]
        for name, value in _held(module):
            places += [(("attr", name, i), t) for i, t in enumerate(tree_flatten(value)[0])]
        cut = whole = False
        for place, t in places:
            if not isinstance(t, torch.Tensor) or not t.is_floating_point() or not t.numel():
                continue  # an index carries no gradient to cut
            if _same(st.outputs.get(id(t)), t):
                whole = True
                continue
            if t.requires_grad:
                continue
            source = self._cut_from(st, t)
            if source is not None:
                how, where, s = source
                st.reads.append(_Read(n, place, how, where, s))
                cut = True
        st.fed += cut or whole
        st.cut += cut
        st.whole += whole

    def _cut_from(self, st: _Module, t: torch.Tensor) -> tuple[str, dict[str, Any], torch.Tensor] | None:
        """The cut `t` is past, when what was cut is an output of the module's earlier call, or a tensor one of
        its calls computed (not a weight: a forward run under no_grad cuts only those)."""
        for i in sorted(self.cuts.origin(t)):
            how, where, inputs = self.cuts.cuts[i]
            for x in inputs:
                own = _same(st.outputs.get(id(x)), x) or _same(st.storages.get(x.untyped_storage().data_ptr()), None)
                if own or (i in st.made and x.grad_fn is not None):
                    return how, where, x
        return None


def _same(ref: weakref.ref | None, t: torch.Tensor | None) -> bool:
    """The weak reference is alive, and to `t` when given."""
    held = ref() if ref is not None else None
    return held is not None and (t is None or held is t)


def _held(module: nn.Module) -> list[tuple[str, Any]]:
    """The tensors a module keeps on itself between calls: its buffers and plain attributes (a tensor, or a
    tuple or list of them: an (h, c) state)."""
    out = [(n, b) for n, b in module._buffers.items() if b is not None]
    return out + [(n, v) for n, v in vars(module).items()
                  if n not in _BASE and (isinstance(v, torch.Tensor)
                                         or isinstance(v, (tuple, list)) and len(v) <= HELD_ITEMS)]


def check(model: nn.Module, tape: Tape, severity: str) -> tuple[list[Finding], dict[str, Any]]:
    """On a copy of `model` in training mode, with the batch and loss head on `tape`: the findings (`severity`
    for a confirmed cut) and the probe's record."""
    with isolated(), internal_calls(), guarded(model):
        measured = measure(set_mode(independent_copy(model), True), tape.loss_of, tape.batch)
    if measured is None:
        return [], {"name": NAME, "status": "skipped",
                    "note": "no module reads an earlier call's state past a cut within one forward"}
    found, record = rules.judge_state(measured, "run", severity)
    return found, {"status": "ran", **record}


def measure(model: nn.Module, loss_of: Callable[[Any, dict[str, torch.Tensor]], torch.Tensor],
            batch: tuple[tuple, dict]) -> dict[str, Any] | None:
    """On `model` (a copy: its attributes may be rewritten), the modules whose later calls read an earlier
    call's state past a cut, and how much moving those values moves the loss. None when no module is so fed or
    the loss is not a finite scalar."""
    params = dict(model.named_parameters())
    batch = cloned_batch(*batch)

    def loss() -> torch.Tensor:
        with same_noise(SEED):
            return loss_of(call(model, Call(batch)), params)

    with torch.enable_grad(), Cuts(before=started_from(model, batch)) as cuts:
        watch = _Watch(model, cuts)
        try:
            value = loss()
        finally:
            watch.remove()
    fed = [(id_, st) for id_, st in watch.modules.items() if st.reads]
    if not fed or not (isinstance(value, torch.Tensor) and value.numel() == 1):
        return None
    first = float(value.detach())
    if not math.isfinite(first):
        return None
    free = _as_is(value)
    by_id = {id(m): m for m in model.modules()}
    gen = torch.Generator().manual_seed(SEED)
    out: dict[str, Any] = {"loss": first, "modules": []}
    with torch.no_grad():
        out["repeat_noise"] = abs(float(loss()) - first)
        for id_, st in fed[:MAX_MODULES]:
            after = _moved(by_id[id_], st.reads, loss, gen)
            out["modules"].append({
                "module": st.name, "type": type(by_id[id_]).__name__, "calls": st.calls, "fed_calls": st.fed,
                "cut_calls": st.cut, "whole_calls": st.whole, "cut_values": len(st.reads),
                "places": sorted({_place(r.place) for r in st.reads}),
                "cuts": _first_cuts(st.reads),
                "as_is": all(r.source.grad_fn is not None and id(r.source.grad_fn) in free for r in st.reads),
                "step": GRADIENT_PROBE_COARSE, "change": abs(after - first) if math.isfinite(after) else math.inf})
    return out


def _moved(module: nn.Module, reads: list[_Read], loss: Callable[[], torch.Tensor], gen: torch.Generator) -> float:
    """The loss with every value in `reads` moved by GRADIENT_PROBE_COARSE of its norm, at the call that reads it."""
    at: dict[int, list[tuple]] = {}
    for r in reads:
        at.setdefault(r.call, []).append(r.place)
    count = [0]

    def nudged(t: torch.Tensor) -> torch.Tensor:
        return t + direction(t, GRADIENT_PROBE_COARSE, gen)

    def moving(m: nn.Module, args: tuple, kwargs: dict) -> tuple[tuple, dict] | None:
        n, count[0] = count[0], count[0] + 1
        if n not in at:
            return None
        leaves, spec = tree_flatten((args, kwargs))
        for place in at[n]:
            if place[0] == "arg":
                leaves[place[1]] = nudged(leaves[place[1]])
            else:
                held, held_spec = tree_flatten(getattr(m, place[1]))
                held[place[2]] = nudged(held[place[2]])
                setattr(m, place[1], tree_unflatten(held, held_spec))
        return tree_unflatten(leaves, spec)

    handle = module.register_forward_pre_hook(moving, with_kwargs=True)
    try:
        return float(loss())
    finally:
        handle.remove()


def _as_is(loss: torch.Tensor) -> set[int]:
    """The autograd nodes the loss reads without a layer between (a call that takes a weight): its predictions."""
    return {id(n) for n in nodes(loss.grad_fn, below=lambda node: not _takes_weight(node))}


def _takes_weight(node: Any) -> bool:
    """Whether an autograd node takes a leaf requiring grad, directly or through a view or a cast."""
    for fn, _ in node.next_functions:
        while fn is not None:
            kind = type(fn).__name__
            if kind == "AccumulateGrad":
                return True
            if kind.rstrip("0123456789").removesuffix("Backward") not in _VIEWS:
                break
            parents = [p for p, _ in fn.next_functions if p is not None]
            fn = parents[0] if len(parents) == 1 else None
    return False


def _place(place: tuple) -> str:
    return f"argument {place[1]}" if place[0] == "arg" else f"attribute `{place[1]}`"


def _first_cuts(reads: list[_Read]) -> list[dict[str, Any]]:
    """The distinct cuts the reads are past (their call and user's line), in order, at most three."""
    out: list[dict[str, Any]] = []
    for r in reads:
        c = {"call": r.how, **r.where}
        if c not in out:
            out.append(c)
    return out[:3]
