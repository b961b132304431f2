"""Per-step gradient statistics, measured the same way for `run` (recorder.py) and the Monitor
(monitor/core.py): per-parameter gradient norms left on the device and read for many steps in one
host transfer, their grouping by owning module, the update ratio, and the gradient norm
`clip_grad_norm_` measured before clipping. Costs are in docs/performance.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import torch

from .stats import stack_scalars


# ── when to measure ──────────────────────────────────────────────────────────
def when_grads_final(args: tuple, kwargs: dict, ready: Callable[[Any], None]) -> tuple[tuple, dict] | None:
    """For an optimizer's step pre-hook: call `ready` once the gradients are final and before the
    update. Without a closure that is now (`ready(None)`); with one (LBFGS, Lightning), forward and
    backward run inside step(), so after the closure's first call, with the loss it returned.
    Returns the step's arguments with the closure wrapped, or None to leave them."""
    closure = kwargs.get("closure", args[0] if args else None)
    if not callable(closure):
        ready(None)
        return None
    done: list[bool] = []

    def measured(*a: Any, **k: Any) -> Any:
        out = closure(*a, **k)
        if not done:  # LBFGS calls it again during the update
            done.append(True)
            ready(out)
        return out
    return (args, {**kwargs, "closure": measured}) if "closure" in kwargs else ((measured, *args[1:]), kwargs)


# ── gradient norms ───────────────────────────────────────────────────────────
def parameters(opt: torch.optim.Optimizer) -> list[torch.Tensor]:
    """Every parameter an optimizer updates, in its param groups' order."""
    return [p for g in opt.param_groups for p in g["params"]]


def learning_rates(opt: torch.optim.Optimizer) -> list[float]:
    """The learning rate of each param group."""
    return [float(g["lr"]) for g in opt.param_groups]


def grad_norms(params: list[torch.Tensor]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """The parameters that have a gradient, and their gradients' L2 norms in one fused op, left on
    the device."""
    with_grad = [p for p in params if p.grad is not None]
    grads = [p.grad for p in with_grad]
    if not grads:
        return [], []
    if grads[0].requires_grad:  # create_graph=True backward: measure without extending the graph
        grads = [g.detach() for g in grads]
    return with_grad, list(torch._foreach_norm(grads))


def total(norms: Iterable[float]) -> float:
    """The L2 norm of every tensor together, from their own L2 norms."""
    return math.hypot(*norms)


def read_steps(norms: list[list[torch.Tensor]], others: list[Any]) -> tuple[list[list[float]], list[Any]]:
    """Several steps' per-parameter norms, and any other device values (nested in dicts, lists and
    tuples), read in one host transfer. The norms are stacked first: one op for all of them."""
    flat = [t for step in norms for t in step]
    head = [stack_scalars(flat)] if flat else []
    host = to_host(head + list(others))
    values = host[0] if flat else []
    out, at = [], 0
    for step in norms:
        out.append(values[at:at + len(step)])
        at += len(step)
    return out, host[len(head):]


def to_host(entries: list[Any]) -> list[Any]:
    """The same nested structures with every tensor read in one transfer: 0-d tensors become
    floats, vectors lists of floats."""
    leaves = [t.detach().float().reshape(-1) for t in _tensors(entries)]
    if not leaves:
        return entries
    try:
        flat = torch.cat(leaves).cpu().tolist()
    except RuntimeError:  # tensors on several devices
        flat = torch.cat([t.cpu() for t in leaves]).tolist()
    return _rebuild(entries, iter(flat))


def _tensors(obj: Any) -> Iterable[torch.Tensor]:
    if isinstance(obj, torch.Tensor):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _tensors(v)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _tensors(v)


def _rebuild(obj: Any, values: Iterable[float]) -> Any:
    if isinstance(obj, torch.Tensor):
        taken = [next(values) for _ in range(obj.numel())]
        return taken[0] if obj.dim() == 0 else taken
    if isinstance(obj, dict):
        return {k: _rebuild(v, values) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_rebuild(v, values) for v in obj)
    return obj


# ── grouping by module ───────────────────────────────────────────────────────
def owner(name: str) -> str:
    """The module owning a parameter: `encoder.layers.0.attn` for `encoder.layers.0.attn.in_proj_weight`,
    `<root>` for a parameter of the model itself."""
    return name.rpartition(".")[0] or "<root>"


@dataclass(frozen=True)
class Grouping:
    """A list of parameters' names and owning modules (in the order first met)."""

    names: list[str]
    modules: list[str]
    index: list[int]  # the module of each parameter

    def by_module(self, per_param: list[float]) -> dict[str, float]:
        """L2 norms per owning module from per-parameter L2 norms."""
        members: list[list[float]] = [[] for _ in self.modules]
        for i, v in zip(self.index, per_param):
            members[i].append(v)
        return {name: math.hypot(*m) for name, m in zip(self.modules, members)}

    def nonfinite(self, per_param: list[float]) -> list[str]:
        """The parameters whose value is NaN or Inf."""
        return [n for n, v in zip(self.names, per_param) if not math.isfinite(v)]


def parameter_names(params: list[torch.Tensor], models: Iterable[torch.nn.Module]) -> list[str]:
    """Each parameter's qualified name in the first of `models` that holds it (`<unnamed>` if none)."""
    lookup: dict[int, str] = {}
    for model in models:
        for n, p in model.named_parameters():
            lookup.setdefault(id(p), n)
    return [lookup.get(id(p), "<unnamed>") for p in params]


class Groupings:
    """Groupings of parameter lists by owning module, cached by the parameters' identity (a step usually
    has the same list as the one before; a parameter that gains or loses its gradient changes it).
    `models` gives the modules the parameters are named in (read again when a new list comes)."""

    _KEPT = 8

    def __init__(self, models: Callable[[], Iterable[torch.nn.Module]]):
        self._models = models
        self._cache: dict[tuple[int, ...], Grouping] = {}

    def of(self, params: list[torch.Tensor]) -> Grouping:
        key = tuple(map(id, params))
        found = self._cache.get(key)
        if found is None:
            if len(self._cache) >= self._KEPT:
                self._cache.clear()
            names = parameter_names(params, self._models())
            owners = [owner(n) for n in names]
            modules = list(dict.fromkeys(owners))
            position = {m: i for i, m in enumerate(modules)}
            found = self._cache[key] = Grouping(names, modules, [position[o] for o in owners])
        return found


# ── update ratio ─────────────────────────────────────────────────────────────
_RATIO_SAMPLE = 4096  # elements per tensor kept for the update ratio


class UpdateSampler:
    """‖Δθ‖/‖θ‖ of one step, measured across step() itself (`before` ahead of it, `ratio` after it)
    and estimated from an evenly strided sample of at most _RATIO_SAMPLE elements per tensor: within
    2% of the full ratio on an MLP, a CNN and a transformer under Adam and SGD (5% on a layer fed
    features of very uneven scale, tests/monitor), at a quarter of a full copy's time on the
    transformer and _RATIO_SAMPLE elements of memory per tensor. The strided views are made once and kept (the optimizer updates the parameters in place, so
    the views see every update); they are rebuilt when a parameter's storage changes
    (`p.data = ...`). A sample's squared norm is scaled by numel / sample size, so large tensors
    weigh as much as they do in the full norm."""

    def __init__(self) -> None:
        self._key: tuple[int, ...] = ()
        self._views: list[torch.Tensor] = []
        self._scale: torch.Tensor | None = None

    def before(self, params: list[torch.Tensor]) -> list[torch.Tensor]:
        key = tuple(p.data_ptr() for p in params)
        if key != self._key:
            flat = [p.detach().reshape(-1) for p in params]
            self._views = [f[::_stride(f.numel(), p.shape[-1] if p.dim() else 1)] for f, p in zip(flat, params)]
            self._scale = torch.tensor([f.numel() / max(1, v.numel()) for f, v in zip(flat, self._views)])
            self._key = key
        with torch.no_grad():
            return torch._foreach_mul(self._views, 1.0)  # copies of the samples, in one fused op

    def ratio(self, before: list[torch.Tensor]) -> torch.Tensor:
        """A 0-d device tensor: read it with the step's other values."""
        with torch.no_grad():
            delta = stack_scalars(torch._foreach_norm(torch._foreach_sub(self._views, before))).float()
            weight = stack_scalars(torch._foreach_norm(before)).float()
            both = torch.stack([delta, weight]).square_().mul_(self._scale.to(delta.device)).sum(1).sqrt_()
            # weights of norm 0 (all zero-initialised) have no ratio: NaN (no host sync here), recorded as None
            return torch.where(both[1] > 0, both[0] / both[1].clamp_min(1e-30), torch.full_like(both[0], float("nan")))


def _stride(numel: int, row: int) -> int:
    """A stride keeping at most _RATIO_SAMPLE elements, sharing no factor with the row length: a stride
    of 312 over rows of 256 would visit only every 8th column, and columns (input features) can be
    updated very unevenly (a transformer's output layer under SGD: 10% off the full ratio)."""
    stride = max(1, numel // _RATIO_SAMPLE)
    while stride > 1 and math.gcd(stride, row) > 1:
        stride += 1
    return stride


# ── clipping ─────────────────────────────────────────────────────────────────
class PreClip:
    """The total norm `clip_grad_norm_` returned at its first call of a step: the raw gradients'
    norm (later calls see clipped ones). Fed by measure/clipping.py; `take` ends the step."""

    def __init__(self) -> None:
        self._total: torch.Tensor | None = None

    def see(self, total: torch.Tensor) -> None:
        if self._total is None:
            self._total = total.detach()

    def take(self) -> torch.Tensor | None:
        total, self._total = self._total, None
        return total
