"""The leakage tracer (the seeds' NaN-poisoning trick): poison one sample and watch where it goes.

On copies, one sample's float inputs are set to NaN, and separately to a large finite sentinel; the other
samples' outputs (or per-sample loss terms, when the pipeline returns them) are compared with a clean
run's. An output that turns non-finite, or moves by more than OUTPUT_CHANGE of the output's scale, means
the samples meet somewhere: statistics over the batch, a BatchNorm in training mode, a cache. The clean
batch is run again after the poisoned one on the same copy: outputs that differ then are state kept
across calls (a cache, a running statistic used at inference).

Do no harm: a module is copied (measure/copies.py), a callable object deep-copied, a plain function has
the objects its closure holds copied (state reached through module globals cannot be, and is the user's);
the batch is cloned; the random streams are seeded identically before every call (a dropout mask is the
same in the clean and poisoned runs) and restored afterwards.
"""

from __future__ import annotations

import copy
import random
import types
from typing import Any, Callable

import numpy as np

from ..judge.thresholds import OUTPUT_CHANGE, POISON_SCALE
from ..measure.copies import _rebound
from ..measure.streams import preserved_streams
from ..vocabulary.finding import Finding, finding
from ..vocabulary.report import Report
from ..vocabulary.triage import triage

SOURCE = "data"
SEED = 0


def trace_leakage(model_or_pipeline: Callable, batch: Any, *, sample: int = 0) -> Report:
    """Poison sample `sample` (dim 0 of every array in `batch` that has the batch's size there) and report the
    other samples whose outputs it reaches. `model_or_pipeline` is an nn.Module or any callable taking the
    batch (a tuple is passed as positional arguments, a dict as keyword arguments); its outputs are the arrays
    or tensors it returns with the batch's size in dim 0 — return per-sample losses (reduction='none') to
    trace the loss terms."""
    size = _batch_size(batch)
    if size is None or size < 2:
        raise ValueError("trace_leakage needs a batch of at least 2 samples along dim 0 of its arrays")
    if not 0 <= sample < size:
        raise ValueError(f"sample {sample} is outside the batch of {size}")
    name = getattr(model_or_pipeline, "__qualname__", type(model_or_pipeline).__name__)
    with preserved_streams():
        reference = _call(_copy(model_or_pipeline), batch)
        runs = {}
        for kind in ("nan", "sentinel"):
            fn = _copy(model_or_pipeline)
            poisoned = _call(fn, _poisoned(batch, size, sample, kind))
            runs[kind] = {"poisoned": poisoned, "after": _call(fn, batch)}
    record = _compare(reference, runs, size, sample)
    found = _findings(record, name, size, sample)
    return Report(command=f"trace-leakage {name}", findings=triage(found), sections={"leakage": record})


def _batch_size(batch: Any) -> int | None:
    arrays = _arrays(batch)
    return int(arrays[0].shape[0]) if arrays and arrays[0].ndim else None


def _arrays(obj: Any) -> list:
    import torch

    if isinstance(obj, (torch.Tensor, np.ndarray)):
        return [obj]
    if isinstance(obj, dict):
        return [a for v in obj.values() for a in _arrays(v)]
    if isinstance(obj, (list, tuple)):
        return [a for v in obj for a in _arrays(v)]
    return []


def _map(obj: Any, fn: Callable) -> Any:
    import torch

    if isinstance(obj, (torch.Tensor, np.ndarray)):
        return fn(obj)
    if isinstance(obj, dict):
        return type(obj)((k, _map(v, fn)) for k, v in obj.items())
    if isinstance(obj, tuple):
        return tuple(_map(v, fn) for v in obj)
    if isinstance(obj, list):
        return [_map(v, fn) for v in obj]
    return obj


def _copy(target: Callable) -> Callable:
    from torch import nn

    from ..measure.copies import independent_copy

    if isinstance(target, nn.Module):
        return independent_copy(target)
    if isinstance(target, types.FunctionType):
        memo: dict[int, Any] = {}
        for cell in target.__closure__ or ():
            try:
                copy.deepcopy(cell.cell_contents, memo)
            except (ValueError, TypeError):  # an empty cell, or an object that cannot be copied
                continue
        return _rebound(target, memo, set())
    if isinstance(target, types.BuiltinFunctionType | types.MethodType):
        return target
    return copy.deepcopy(target)


def _poisoned(batch: Any, size: int, sample: int, kind: str) -> Any:
    import torch

    def poison(a):
        if a.ndim == 0 or a.shape[0] != size:
            return a.clone() if isinstance(a, torch.Tensor) else a.copy()
        floating = a.is_floating_point() if isinstance(a, torch.Tensor) else np.issubdtype(a.dtype, np.floating)
        out = a.clone() if isinstance(a, torch.Tensor) else a.copy()
        if floating:
            values = np.asarray(a.detach().cpu().double() if isinstance(a, torch.Tensor) else a, dtype=float)
            big = float(np.abs(values[np.isfinite(values)]).max(initial=1.0))
            out[sample] = float("nan") if kind == "nan" else POISON_SCALE * max(1.0, big)
        return out

    return _map(batch, poison)


def _call(fn: Callable, batch: Any) -> list[np.ndarray]:
    """The callable's per-sample outputs (arrays with the batch's size in dim 0, as float64 numpy), run
    without gradients under seeded random streams."""
    import torch

    random.seed(SEED)
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    with torch.no_grad():
        fresh = _map(batch, lambda a: a.clone() if isinstance(a, torch.Tensor) else a.copy())
        if isinstance(fresh, dict):
            out = fn(**fresh)
        elif isinstance(fresh, (tuple, list)):
            out = fn(*fresh)
        else:
            out = fn(fresh)
    return [np.asarray(a.detach().cpu().double() if isinstance(a, torch.Tensor) else a, dtype=float)
            for a in _arrays(out)]


def _compare(reference: list[np.ndarray], runs: dict, size: int, sample: int) -> dict[str, Any]:
    per_sample = [i for i, r in enumerate(reference) if r.ndim and r.shape[0] == size]
    others = np.arange(size) != sample
    record: dict[str, Any] = {"batch_size": size, "sample": sample, "outputs": len(per_sample)}
    for kind, run in runs.items():
        nonfinite = np.zeros(size, bool)
        moved = np.zeros(size)
        stale = np.zeros(size, bool)
        for i in per_sample:
            ref, pois, after = reference[i], run["poisoned"][i], run["after"][i]
            if pois.shape != ref.shape or after.shape != ref.shape:
                continue
            scale = float(np.abs(ref[np.isfinite(ref)]).max(initial=0.0)) + 1e-12
            flat = lambda a: a.reshape(size, -1)  # noqa: E731
            bad = ~np.isfinite(flat(pois)) & np.isfinite(flat(ref))
            nonfinite |= bad.any(1)
            with np.errstate(invalid="ignore"):
                delta = np.nan_to_num(np.abs(flat(pois) - flat(ref)) / scale, nan=0.0, posinf=np.inf)
                later = np.nan_to_num(np.abs(flat(after) - flat(ref)) / scale, nan=np.inf)
            moved = np.maximum(moved, delta.max(1))
            stale |= (~np.isfinite(flat(after)) & np.isfinite(flat(ref))).any(1) | (later.max(1) > OUTPUT_CHANGE)
        record[kind] = {"nonfinite_others": np.flatnonzero(nonfinite & others).tolist(),
                        "moved_others": np.flatnonzero((moved > OUTPUT_CHANGE) & others).tolist(),
                        "largest_move": float(moved[others].max()) if others.any() else 0.0,
                        "after_differs": np.flatnonzero(stale).tolist(),
                        # the poisoned sample's own output: unchanged, the poison never reached the outputs
                        "own_reached": bool(nonfinite[sample] or moved[sample] > OUTPUT_CHANGE)}
    return record


def _findings(record: dict, name: str, size: int, sample: int) -> list[Finding]:
    nan, sentinel = record["nan"], record["sentinel"]
    within = sorted(set(nan["nonfinite_others"]) | set(nan["moved_others"]) | set(sentinel["moved_others"])
                    | set(sentinel["nonfinite_others"]))
    across = sorted(set(nan["after_differs"]) | set(sentinel["after_differs"]))
    parts = []
    if nan["nonfinite_others"]:
        parts.append(f"NaN made {len(nan['nonfinite_others'])} of the other {size - 1} samples' outputs non-finite")
    reached = set(sentinel["moved_others"]) | set(sentinel["nonfinite_others"])
    if reached:
        parts.append(f"a sentinel value moved {len(reached)} of them (by up to {sentinel['largest_move']:.2g} of the "
                     "output scale)")
    if within and not parts:
        parts.append(f"{len(within)} other samples' outputs moved")
    if within:
        parts[-1] += " — the samples meet inside it (statistics over the batch, a training-mode BatchNorm)"
    if across:
        parts.append(f"and it kept state across calls: the clean batch, run again after a poisoned one, gave different "
                     f"outputs for {len(across)} sample(s) (a cache or a running statistic carries one batch into the next)")
    if not parts:
        return []
    return [finding("cross-sample-leakage", f"poisoning sample {sample} of a batch of {size} passed through `{name}` "
                    "(on a copy): " + "; ".join(parts), SOURCE,
                    evidence={**record, "samples_reached": sorted(set(within) | set(across))[:50]},
                    location={"module": name})]
