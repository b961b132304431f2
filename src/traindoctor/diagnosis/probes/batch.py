"""Batch sanity (non-finite values, scale, constant features, labels) and the odd-batch-size probe."""

from __future__ import annotations

from typing import Any, TypedDict

import torch

from ...judge import probes as probe_rules
from ...measure.stats import feature_scale, nonfinite_summary, tensors_in
from ...vocabulary.finding import Finding
from ..axis import batch_dim
from ..tree import tree_map
from ..registry import Context, probe
from ..setup import Setup, SetupError

ODD_BATCH = 7  # a prime below the usual batch sizes: code written for the batch size breaks on it


class _Tensors(TypedDict):
    # per input tensor: tensor, shape, dtype, and for numbers min, max, mean, std, nan, inf, constant_features
    tensors: list[dict[str, Any]]


class BatchRecord(_Tensors, total=False):
    labels: dict[str, Any]  # classes_present, min, max, counts (the first 50 classes)


class OddBatchRecord(TypedDict, total=False):
    batch: int  # the odd number of samples
    renewed: list[str]  # the state held on the model set afresh for them, as the script does before each batch
    output_shape: list[int] | None  # per-sample output on it (None: no dim of the samples)
    error: str  # what the forward or loss raised on it


def _describe(name: str, t: torch.Tensor, setup: Setup) -> dict[str, Any]:
    d: dict[str, Any] = {"tensor": name, "shape": list(t.shape), "dtype": str(t.dtype).replace("torch.", "")}
    if t.numel() and (t.is_floating_point() or not t.dtype.is_complex):
        x = t.detach().float()
        ok = x[torch.isfinite(x)]
        if ok.numel():
            d.update(min=float(ok.min()), max=float(ok.max()), mean=float(ok.mean()), std=float(ok.std()) if ok.numel() > 1 else 0.0)
        d["nan"] = int(torch.isnan(x).sum())
        d["inf"] = int(torch.isinf(x).sum())
        dim = batch_dim(t, setup.batch_size, setup.axis.axis) if setup.axis.axis is not None else None
        if t.dim() >= 2 and dim is not None and t.shape[dim] > 1:
            flat = x.movedim(dim, 0).reshape(t.shape[dim], -1)
            d["constant_features"] = int((flat.max(0).values == flat.min(0).values).sum())
    return d


@probe("batch", order=10, batch_only=True,
       about="per tensor: shape, dtype, range, NaN/Inf counts, feature scale, constant features; label counts")
def batch_sanity(setup: Setup, context: Context) -> tuple[list[Finding], BatchRecord]:
    found: list[Finding | None] = []
    tensors = list(tensors_in(setup.inputs))
    record = BatchRecord(tensors=[_describe(n, t, setup) for n, t in tensors])
    for name, t in tensors:
        bad = nonfinite_summary(t)
        if bad:
            found.append(probe_rules.nonfinite_input(name, bad))
            continue
        if t.is_floating_point() and t.dim() >= 2 and t.shape[0] > 1:
            found.append(probe_rules.unnormalized_inputs(name, *feature_scale(t, 1 if t.dim() == 4 else -1)))
    targets = setup.targets if isinstance(setup.targets, torch.Tensor) else None
    if targets is None and isinstance(setup.inputs, dict) and isinstance(setup.inputs.get("labels"), torch.Tensor):
        targets = setup.inputs["labels"]
    if targets is not None and not targets.is_floating_point() and targets.numel():
        labels = targets[targets >= 0].flatten()  # negative ids are ignore_index / padding
        if labels.numel():
            counts = torch.bincount(labels).tolist()
            record["labels"] = {"classes_present": sum(1 for c in counts if c), "min": int(labels.min()),
                                "max": int(labels.max()), "counts": counts[:50]}
            found.append(probe_rules.class_imbalance(counts, record["labels"]))
    return [f for f in found if f], record


@probe("odd-batch", order=90, cheap=True,
       about=f"the same copy runs the batch, then {ODD_BATCH} of its samples: code that assumes the batch size breaks")
def odd_batch(setup: Setup, context: Context) -> tuple[list[Finding], OddBatchRecord]:
    """Rerun with a prime batch size: code that hard-codes the batch size or its shape breaks.

    Only what is specific to the size counts: the same copy runs the original batch first, and an
    error there is the setup not running at all (the probe fails), never a batch-size finding."""
    B = setup.need_samples(3)
    n = ODD_BATCH if B > ODD_BATCH else B - 1
    model = setup.copy_model(train=False)
    with torch.no_grad():
        base = setup.per_sample(_forward_and_loss(setup, model))
        small = setup.subset(n)
        renewed = _afresh(model, context.options.renewed, B, n)
        try:
            odd = small.per_sample(_forward_and_loss(small, model))
        except Exception as exc:
            error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ''}"
            record = OddBatchRecord(batch=n, error=error)
            return [probe_rules.batch_size_error(B, n, error, str(exc)[:500])], {**record, **_named(renewed)}
    record = OddBatchRecord(batch=n, output_shape=list(odd.shape) if odd is not None else None, **_named(renewed))
    found = probe_rules.batch_size_shape(B, n, base.shape[1:] if base is not None else None,
                                   odd.shape[1:] if odd is not None else None, dict(record))
    return [found] if found else [], record


def _afresh(model: torch.nn.Module, places: frozenset[tuple[str, str]], size: int, n: int) -> list[str]:
    """Set the state the script sets afresh before each batch (run saw it: measure/carried.py renewed) to zeros
    for n samples: the dim of the state of the batch's `size` becomes n. A state with no such single dim is
    left as it is. The attributes set."""
    def fresh(t: torch.Tensor, _: str) -> torch.Tensor:
        dims = [d for d, s in enumerate(t.shape) if s == size]
        return t.new_zeros(*t.shape[:dims[0]], n, *t.shape[dims[0] + 1:]) if len(dims) == 1 else t

    done = []
    for name, attr in sorted(places):
        module = model.get_submodule(name)
        value = getattr(module, attr, None)
        if value is not None:
            setattr(module, attr, tree_map(value, fresh))
            done.append(f"{name}.{attr}" if name else attr)
    return done


def _named(renewed: list[str]) -> dict[str, list[str]]:
    return {"renewed": renewed} if renewed else {}


def _forward_and_loss(setup: Setup, model: torch.nn.Module) -> Any:
    out = setup.forward(model)
    try:
        setup.loss(out)
    except SetupError:  # no loss to check (e.g. a batch captured by `run`): the forward pass is enough
        pass
    return out
