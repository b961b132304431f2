"""Does the gradient describe the loss? Two of the differential diagnosis's cheapest experiments, on a copy
of the model with one recorded batch and its loss head on tape:

- one small step along the negative gradient: the loss must fall by about what the gradient predicts
  (step length x gradient norm). A loss that does not fall has a gradient that is not its own — a
  custom autograd Function with a wrong backward, a gradient hook that rewrites it.
- the parameters the optimizer holds whose gradient is exactly zero (or None) while the loss is positive:
  moved a little in a random direction, does the loss move? If it does, the loss depends on them and the
  path from them to the loss is cut (`.detach()`, `.data`, `torch.no_grad()`, a rounding): they can never
  learn. If it does not, they are unused, or dead, which is another question.

The cut itself is localised: the forward and the loss run under a TorchFunctionMode that notes every
call whose input carries gradient and whose output does not (or whose derivative is zero), with its line
in the user's code; the calls whose input depends on the cut parameters are named.
The numbers are judged in judge/gradient_path.py.
"""

from __future__ import annotations

import math
import weakref
from typing import Any, Callable, Iterable, NamedTuple

import numpy as np
import torch
from torch import nn
from torch.autograd.function import BackwardCFunction
from torch.overrides import TorchFunctionMode, resolve_name
from torch.utils._pytree import tree_leaves

from ..judge import gradient_path as rules
from ..judge.thresholds import GRADIENT_PROBE_COARSE, GRADIENT_PROBE_FAR, GRADIENT_PROBE_STEP
from ..measure.recorder import made_by_us, user_location
from ..measure.tape import cloned_batch
from .sandbox import same_noise
from .tree import Call, call

SEED = 0
STEPS = (1e-4, 1e-3, 1e-2)  # step lengths, as a share of the parameters' norm
# Functions with a derivative of zero wherever it exists, and samplers torch gives a zero derivative (a draw
# of bernoulli(p) or normal(mean, std) is not reparameterised): the gradient through them is exactly zero.
FLAT = {"round", "floor", "ceil", "trunc", "sign", "heaviside", "bernoulli", "normal", "poisson", "binomial"}
# Functions of their input's shape alone: no value of it, with or without gradient, goes through them.
SHAPED = {"zeros_like", "ones_like", "empty_like", "full_like", "rand_like", "randn_like", "randint_like",
          "new_zeros", "new_ones", "new_empty", "new_full"}
_DATA = torch._C.TensorBase.__dict__["data"]  # `x.data` reaches the mode as this descriptor's __get__


class Cuts(TorchFunctionMode):
    """Calls where gradient stops: an input requires grad and no output carries it — a tensor without
    gradient, an index (argmax, a comparison) or a Python number (`.item()`, `.tolist()`) — or the function's
    derivative is zero. Each with the user's line.

    Also what becomes of their outputs: a value computed from them without gradient (a tensor, or a tensor
    rebuilt from those Python numbers) is `derived` from the same cuts, and a call that reads a floating-point
    one and gives an output with gradient is a `reader` — with the weights it takes directly (a layer: the
    cut tensor was a representation that trainable computation goes on from) or none (a weight or a target:
    an advantage, a codebook's target, a bootstrapped value). An index derived from cuts that selects
    entries of a weight (a codebook's lookup) is a choice among them, not a representation: its reader is
    marked `index`, and a term's path (term_path.py) does not follow it.

    A value derived from cuts that leaves for numpy (`.numpy()`) is lost to sight: numpy's arithmetic and
    `torch.from_numpy` are not torch calls. Once one has left, a tensor that no call of this forward made and
    that the forward did not start from (`before`: the batch, the weights, the loss head's constants), or an
    array a call reads (`torch.tensor(array)`), has come back from outside torch, and is taken as derived from
    every cut that left (a latent drawn with
    `np.random.normal(mu.detach().numpy(), ...)`); the experiments that move the weights decide."""

    def __init__(self, outside: frozenset[int] = frozenset(), before: Iterable[torch.Tensor] = ()) -> None:
        super().__init__()
        # The ids of tensors that stand for weights outside the model (a loss head's Const.weight, tape.py).
        self.outside = outside
        # The call a replayed loss head is about to make, and the user's line that made it when recorded.
        self.replaying: tuple[Callable, dict[str, Any]] | None = None
        self.cuts: list[tuple[str, dict[str, Any], list[torch.Tensor]]] = []
        # id -> (a weak reference: a frozen backbone's activations are not kept; the cuts' indices)
        self.derived: dict[int, tuple[weakref.ref, frozenset[int]]] = {}
        # id -> (a Python number a cut gave, held so that its id is not reused; the cuts' indices)
        self.numbers: dict[int, tuple[float, frozenset[int]]] = {}
        self.readers: list[Reader] = []
        self.valued: set[int] = set()  # the cuts that gave a floating-point tensor, not an index or a number
        # id -> a weak reference, of every tensor the forward started from or a call of it made
        self.seen: dict[int, weakref.ref] = {id(t): weakref.ref(t) for t in before}
        self.left: frozenset[int] = frozenset()  # the cuts whose derived values left for numpy

    def __torch_function__(self, func: Callable, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        out = func(*args, **(kwargs or {}))
        given = tree_leaves((args, kwargs))
        tensors = [t for t in given if isinstance(t, torch.Tensor)]
        inputs = [t for t in tensors if t.requires_grad]
        if self.left:
            for t in filter(self._returned, tensors):
                self.derived[id(t)] = (weakref.ref(t), self.left)
                self.seen[id(t)] = weakref.ref(t)
        origin = frozenset().union(*(self.origin(t) for t in given))
        if self.left and any(isinstance(v, np.ndarray) for v in given):
            origin |= self.left
        results = tree_leaves(out)
        outputs = [t for t in results if isinstance(t, torch.Tensor)]
        self.seen.update((id(t), weakref.ref(t)) for t in outputs)
        if origin and any(isinstance(v, np.ndarray) for v in results):
            self.left |= origin
        name = ".data" if getattr(func, "__self__", None) is _DATA else _name(func)
        if not inputs and not origin or name in SHAPED:
            return out
        numbers = [v for v in results if type(v) is float]
        # A cut our own code makes (a hook, an experiment's `.detach()`) is not on the user's path to the loss:
        # only calls some user line made are named — a replayed loss head's by the line that made it.
        where = self._where(func)
        cut = bool(inputs) and (bool(outputs or numbers) and not any(t.requires_grad for t in outputs)
                                or name.strip("_") in FLAT) and where is not None
        if cut:
            how = name if torch.is_grad_enabled() else f"{name} under torch.no_grad()"
            self.cuts.append((how, where, inputs))
            if any(t.is_floating_point() for t in outputs):
                self.valued.add(len(self.cuts) - 1)
            origin |= {len(self.cuts) - 1}
        if origin:
            # Past a cut still, when every input with gradient is (a rounding's output carries a zero one) and
            # no weight outside the model is.
            past = cut or all(self.origin(t) for t in inputs) and not any(id(t) in self.outside for t in tensors)
            for t in outputs:
                if past or not t.requires_grad:
                    self.derived[id(t)] = (weakref.ref(t), origin)
            for v in numbers:
                self.numbers[id(v)] = (v, origin)
            carried = [t for t in outputs if t.requires_grad]
            read = frozenset().union(*(self.origin(t) for t in tensors if t.is_floating_point()))
            chosen = frozenset().union(*(self.origin(t) for t in tensors if not t.is_floating_point()))
            if carried and not past and (read or chosen):
                weights = [w for w in map(_weight, inputs) if w is not None] + [
                    t for t in tensors if id(t) in self.outside]
                self.readers.append(Reader(read or chosen, name, where or user_location(always=True), carried, weights,
                                           index=not read))
        return out

    def replay(self, op: Any) -> None:
        """Called by Tape.values_of before each call of a loss head on tape (`before`)."""
        self.replaying = (op.func, {"file": op.where[0], "line": op.where[1]} if op.where else {})

    def _where(self, func: Callable) -> dict[str, Any] | None:
        """The user's line that made this call; None for a call of our own."""
        if not made_by_us(3):
            return user_location(always=True)
        return self.replaying[1] if self.replaying is not None and self.replaying[0] is func else None

    def stops(self, value: torch.Tensor) -> set[int]:
        """The cuts the path to `value` can be said to stop at: those whose outputs a reader on its graph takes
        (an index too: weights whose only path to the loss is an argmax that picks an embedding's row get no
        gradient), not a check whose answer goes nowhere (a distribution's validation of its arguments, a
        returned argmax); with no such reader (the loss itself rebuilt), those that stripped the gradient from a
        value."""
        graph = nodes_of(value)
        read = set().union(*(r.cuts for r in self.readers
                             if any(o.grad_fn is not None and id(o.grad_fn) in graph for o in r.outputs)))
        return read or self.valued

    def _returned(self, t: torch.Tensor) -> bool:
        """Whether `t` came into this forward from outside torch: neither made by a call nor started from."""
        ref = self.seen.get(id(t))
        return (ref is None or ref() is not t) and not t.requires_grad

    def origin(self, v: Any) -> frozenset[int]:
        """The indices of the cuts `v` (a tensor or a Python number) was computed from without gradient."""
        if isinstance(v, torch.Tensor):
            hit = self.derived.get(id(v))
            held = hit[0]() if hit is not None else None
        else:
            hit = self.numbers.get(id(v))
            held = hit[0] if hit is not None else None
        return hit[1] if hit is not None and held is v else frozenset()


def started_from(model: nn.Module, batch: Any, *more: Any) -> list[torch.Tensor]:
    """The tensors a forward of `model` on `batch` starts from: the batch's, the weights and buffers, `more`'s."""
    return [t for t in tree_leaves((batch, more)) if isinstance(t, torch.Tensor)] + [
        *model.parameters(), *model.buffers()]


class Reader(NamedTuple):
    """A call with gradient that reads a tensor derived from cuts."""
    cuts: frozenset[int]  # indices into Cuts.cuts
    call: str
    where: dict[str, Any]
    outputs: list[torch.Tensor]
    weights: list[torch.Tensor]  # the leaf tensors it takes as arguments (directly, or through a view or a cast)
    index: bool = False  # it reads only an index derived from cuts: a choice among entries, not a representation


# A weight reaches a layer through these unchanged (`W.t()`, `W.view(...)`, `W.to(dtype)`); an indexed or
# gathered weight (a codebook's looked-up entries) is a value computed from the weights, not a layer's.
_VIEWS = {"T", "Transpose", "Permute", "View", "UnsafeView", "Reshape", "ReshapeAlias", "Expand", "Unsqueeze",
          "Squeeze", "ToCopy", "Alias", "Clone"}


def _weight(t: torch.Tensor) -> torch.Tensor | None:
    """The leaf tensor requiring grad that `t` is, or is a view or a cast of; None for any other tensor."""
    if t.grad_fn is None:
        return t if t.is_leaf and t.requires_grad else None
    node = t.grad_fn
    while node is not None:
        kind = type(node).__name__
        if kind == "AccumulateGrad":
            return node.variable
        if kind.rstrip("0123456789").removesuffix("Backward") not in _VIEWS:
            return None
        parents = [n for n, _ in node.next_functions if n is not None]
        node = parents[0] if len(parents) == 1 else None
    return None


def _name(func: Callable) -> str:
    return (resolve_name(func) or getattr(func, "__name__", "?")).rsplit(".", 1)[-1]


def measure(model: nn.Module, loss_of: Callable[[Any, dict[str, torch.Tensor]], torch.Tensor],
            batch: tuple[tuple, dict], held: list[str]) -> dict[str, Any] | None:
    """On `model` (a copy: its parameters are moved and put back), the loss on `batch`, its gradient for the
    parameters named in `held` (those an optimizer updates), the descent along it, and the cut parameters.
    None when the loss is not a finite scalar. A loss without gradient (its path from the model's output
    rewrapped into a new tensor) gives every parameter none."""
    params = dict(model.named_parameters())
    held = [n for n in held if n in params and params[n].requires_grad]
    batch = cloned_batch(*batch)

    def loss() -> torch.Tensor:
        with same_noise(SEED):
            return loss_of(call(model, Call(batch)), params)

    with torch.enable_grad(), Cuts(before=started_from(model, batch)) as watch:
        value = loss()
    if not (isinstance(value, torch.Tensor) and value.numel() == 1 and held):
        return None
    stops = watch.stops(value)
    first = float(value.detach())
    if not math.isfinite(first):
        return None
    custom = _custom_functions(value)
    grads = dict(zip(held, torch.autograd.grad(value, [params[n] for n in held], allow_unused=True)
                     if value.requires_grad else [None] * len(held)))
    with torch.no_grad():
        again = float(loss())
        noise = abs(again - first)
        live = {n: g for n, g in grads.items() if g is not None and bool(g.any())}
        zero = [n for n in held if n not in live]
        out: dict[str, Any] = {"loss": first, "repeat_noise": noise, "parameters": len(held), "zero_gradient": zero,
                               "custom_functions": custom, "carries_gradient": value.requires_grad}
        if live:
            out["descent"] = _descent(params, live, loss, first)
        out["dependence"] = _dependence(params, zero, loss, first, GRADIENT_PROBE_STEP)
        # A rounding is flat between its steps, and a small weight's effect can sit below float32's
        # resolution: a parameter that feeds a call where gradient stops is moved further to be sure — as far
        # as its own size when that call is a choice (an argmax), which noise can hold through a smaller move.
        for share, at in ((GRADIENT_PROBE_COARSE, stops), (GRADIENT_PROBE_FAR, stops - watch.valued)):
            further = [n for n in zero if not rules.depends(out["dependence"][n]["change"], first, noise)
                       and _between([params[n]], watch.cuts, at)]
            out["dependence"].update(_dependence(params, further, loss, first, share))
    cut = [params[n] for n, d in out["dependence"].items() if rules.depends(d["change"], first, noise)]
    if cut:
        out["cuts"] = _between(cut, watch.cuts, stops)
    return out


def _descent(params: dict[str, torch.Tensor], grads: dict[str, torch.Tensor], loss: Callable[[], torch.Tensor],
             first: float) -> list[dict[str, float]]:
    """The loss after steps of several lengths along the negative gradient, against the first-order prediction."""
    norm = math.sqrt(sum(float(g.double().pow(2).sum()) for g in grads.values()))
    size = math.sqrt(sum(float(params[n].double().pow(2).sum()) for n in grads)) or 1.0
    rows = []
    for share in STEPS:
        step = share * size
        with moved(params, {n: -step * g / norm for n, g in grads.items()}):
            after = float(loss())
        rows.append({"step": share, "fall": first - after, "predicted": step * norm})
    return rows


def _dependence(params: dict[str, torch.Tensor], names: list[str], loss: Callable[[], torch.Tensor],
                first: float, share: float) -> dict[str, dict[str, float]]:
    """For each parameter tensor, how much the loss moves when it moves by `share` of its norm in a random
    direction (a private generator: the script's streams are not drawn from)."""
    gen = torch.Generator().manual_seed(SEED)
    out = {}
    for n in names:
        with moved(params, {n: direction(params[n], share, gen)}):
            after = float(loss())
        out[n] = {"step": share, "change": abs(after - first) if math.isfinite(after) else math.inf}
    return out


def direction(p: torch.Tensor, share: float, gen: torch.Generator) -> torch.Tensor:
    """A random move of `p` by `share` of its norm, drawn from `gen`."""
    d = torch.randn(p.shape, generator=gen, dtype=torch.float64)
    return (d * (share * max(float(p.detach().double().norm()), 1e-3) / float(d.norm()))).to(p.dtype)


class moved:
    """Parameters shifted in place by `deltas` inside the block, restored exactly after."""

    def __init__(self, params: dict[str, torch.Tensor], deltas: dict[str, torch.Tensor]):
        self.params, self.deltas, self.saved = params, deltas, {}

    def __enter__(self) -> None:
        for n, d in self.deltas.items():
            self.saved[n] = self.params[n].detach().clone()
            self.params[n].add_(d.to(self.params[n].dtype))

    def __exit__(self, *exc: Any) -> None:
        for n, v in self.saved.items():
            self.params[n].copy_(v)


def _between(cut: list[torch.Tensor], calls: list[tuple[str, dict[str, Any], list[torch.Tensor]]],
             stops: set[int]) -> list[dict[str, Any]]:
    """The recorded calls among `stops` (Cuts.stops) whose inputs were computed from the cut parameters:
    where their path stops."""
    targets = {id(p) for p in cut}
    out, seen = [], set()
    for i in sorted(stops):
        name, where, inputs = calls[i]
        if not any(_reaches(t, targets) for t in inputs):
            continue
        key = (name, where.get("file"), where.get("line"))
        if key not in seen:
            seen.add(key)
            out.append({"call": name, **where})
    return out


def _reaches(t: torch.Tensor, targets: set[int]) -> bool:
    """Whether `t` is one of `targets` or was computed from one (walking its autograd graph)."""
    return id(t) in targets or bool(leaves_of(t) & targets)


def nodes_of(t: torch.Tensor) -> set[int]:
    """The ids of the autograd nodes `t` is computed through."""
    seen: set[int] = set()
    stack = [t.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        stack.extend(n for n, _ in node.next_functions)
    return seen


def leaves_of(t: torch.Tensor) -> set[int]:
    """The ids of the leaf tensors requiring grad that `t` is computed from (itself, if it is one)."""
    if t.grad_fn is None:
        # A view taken under torch.no_grad() (a distribution's `sample()` expands its parameters so) has no
        # graph of its own but still requires grad: it is computed from what its base is.
        if t.requires_grad and t._base is not None:
            return leaves_of(t._base)
        return {id(t)} if t.requires_grad else set()
    found, seen, stack = set(), set(), [t.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        var = getattr(node, "variable", None)
        if var is not None:
            found.add(id(var))
        stack.extend(n for n, _ in node.next_functions)
    return found


def _custom_functions(loss: torch.Tensor) -> list[str]:
    """The custom autograd Functions (torch.autograd.Function subclasses) the loss's graph runs through."""
    names, stack, seen = [], [loss.grad_fn], set()
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, BackwardCFunction):
            name = type(node).__name__.removesuffix("Backward")
            names += [name] if name not in names else []
        stack.extend(n for n, _ in node.next_functions)
    return names
