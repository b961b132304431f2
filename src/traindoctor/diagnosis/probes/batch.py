"""Batch sanity (non-finite values, scale, constant features, labels) and the odd-batch-size probe."""

from __future__ import annotations

from typing import Any

import torch

from ...vocabulary.finding import Finding, finding
from ...measure.stats import feature_scale, fmt, nonfinite_summary, tensors_in
from ..axis import batch_dim
from ..setup import Setup, SetupError

SCALE_LIMIT = 100.0  # same threshold as `run`'s unnormalized-inputs
MAJORITY = 0.9  # one class holding 90% of a batch of at least 20 labels
ODD_BATCH = 7


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


def batch_sanity(setup: Setup) -> tuple[list[Finding], dict[str, Any]]:
    found: list[Finding] = []
    tensors = list(tensors_in(setup.inputs))
    record: dict[str, Any] = {"tensors": [_describe(n, t, setup) for n, t in tensors]}
    for name, t in tensors:
        bad = nonfinite_summary(t)
        if bad:
            where = f"feature columns {bad['columns']}" if "columns" in bad else f"positions {bad['positions']}"
            found.append(finding("nonfinite-input", f"input `{name}` (shape {bad['shape']}) holds {bad['nonfinite']} "
                                 f"non-finite values ({bad['nan']} NaN) in {where}", "checkup", evidence=bad,
                                 location={"tensor": name}))
            continue
        if t.is_floating_point() and t.dim() >= 2 and t.shape[0] > 1:
            mean, std = feature_scale(t, 1 if t.dim() == 4 else -1)
            scale = torch.maximum(mean.abs(), std)
            cols = (scale > SCALE_LIMIT).nonzero().flatten().tolist()
            if cols:
                found.append(finding(
                    "unnormalized-inputs", f"input `{name}`: {len(cols)} of {scale.numel()} features have scale above 100, "
                    + ", ".join(f"{c} (mean {fmt(float(mean[c]))}, std {fmt(float(std[c]))})" for c in cols[:4]),
                    "checkup", evidence={"tensor": name, "columns": cols[:20]}, location={"tensor": name}))
    targets = setup.targets if isinstance(setup.targets, torch.Tensor) else None
    if targets is None and isinstance(setup.inputs, dict) and isinstance(setup.inputs.get("labels"), torch.Tensor):
        targets = setup.inputs["labels"]
    if targets is not None and not targets.is_floating_point() and targets.numel():
        labels = targets[targets >= 0].flatten()  # negative ids are ignore_index / padding
        if labels.numel():
            counts = torch.bincount(labels)
            record["labels"] = {"classes_present": int((counts > 0).sum()), "min": int(labels.min()),
                                "max": int(labels.max()), "counts": counts.tolist()[:50]}
            top = float(counts.max()) / labels.numel()
            if labels.numel() >= 20 and (counts > 0).sum() >= 2 and top >= MAJORITY:
                found.append(finding("class-imbalance", f"class {int(counts.argmax())} holds {top:.0%} of the "
                                     f"{labels.numel()} labels in the batch", "checkup", evidence=record["labels"]))
    return found, record


def odd_batch(setup: Setup) -> tuple[list[Finding], dict[str, Any]]:
    """Rerun with a prime batch size: code that hard-codes the batch size or its shape breaks.

    Only what is specific to the size counts: the same copy runs the original batch first, and an
    error there is the setup not running at all (the probe fails), never a batch-size finding."""
    B = setup.need_samples(3)
    n = ODD_BATCH if B > ODD_BATCH else B - 1
    model = setup.copy_model(train=False)
    with torch.no_grad():
        base = setup.per_sample(_forward_and_loss(setup, model))
        small = setup.subset(n)
        try:
            odd = small.per_sample(_forward_and_loss(small, model))
        except Exception as exc:
            error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ''}"
            return [finding("batch-size-assumption", f"the forward pass and loss run on the batch of {B}, but with {n} "
                            f"samples they raised {error}", "checkup",
                            evidence={"batch": n, "original_batch": B, "error": str(exc)[:500]})], {"batch": n, "error": error}
    record: dict[str, Any] = {"batch": n, "output_shape": list(odd.shape) if odd is not None else None}
    if base is not None and (odd is None or odd.shape[1:] != base.shape[1:]):
        got = "has no dimension of that size" if odd is None else f"holds samples of shape {list(odd.shape[1:])}"
        return [finding("batch-size-assumption", f"with a batch of {n} instead of {B}, the output {got} (with {B}: "
                        f"{list(base.shape[1:])} per sample)", "checkup", evidence={**record, "original_batch": B})], record
    return [], record


def _forward_and_loss(setup: Setup, model: torch.nn.Module) -> Any:
    out = setup.forward(model)
    try:
        setup.loss(out)
    except SetupError:  # no loss to check (e.g. a batch captured by `run`): the forward pass is enough
        pass
    return out
