"""Batch sanity (non-finite values, scale, constant features, labels) and the odd-batch-size probe."""

from __future__ import annotations

from typing import Any

import torch

from ..findings import Finding, finding
from ..record.stats import batch_tensors, feature_scale, fmt, nonfinite_summary
from .setup import NotApplicable, Setup, SetupError, main_output

SCALE_LIMIT = 100.0  # same threshold as `run`'s unnormalized-inputs
MAJORITY = 0.9  # one class holding 90% of a batch of at least 20 labels
ODD_BATCH = 7


def _describe(name: str, t: torch.Tensor) -> dict[str, Any]:
    d: dict[str, Any] = {"tensor": name, "shape": list(t.shape), "dtype": str(t.dtype).replace("torch.", "")}
    if t.numel() and (t.is_floating_point() or not t.dtype.is_complex):
        x = t.detach().float()
        ok = x[torch.isfinite(x)]
        if ok.numel():
            d.update(min=float(ok.min()), max=float(ok.max()), mean=float(ok.mean()), std=float(ok.std()) if ok.numel() > 1 else 0.0)
        d["nan"] = int(torch.isnan(x).sum())
        d["inf"] = int(torch.isinf(x).sum())
        if t.dim() >= 2 and t.shape[0] > 1:
            flat = x.reshape(t.shape[0], -1)
            d["constant_features"] = int((flat.max(0).values == flat.min(0).values).sum())
    return d


def batch_sanity(setup: Setup) -> tuple[list[Finding], dict[str, Any]]:
    found: list[Finding] = []
    tensors = list(batch_tensors((setup.inputs,), {}))
    record: dict[str, Any] = {"tensors": [_describe(n, t) for n, t in tensors]}
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
    """Rerun with a prime batch size: code that hard-codes the batch size or its shape breaks."""
    B = setup.batch_size
    n = ODD_BATCH if B > ODD_BATCH else B - 1
    if n < 2:
        raise NotApplicable(f"the batch has {B} samples; at least 3 are needed")
    small = setup.subset(n)
    model = setup.copy_model(train=False)
    try:
        with torch.no_grad():
            out = small.forward(model)
            try:
                small.loss(out)
            except SetupError:  # no loss to check (e.g. a batch captured by `run`): the forward pass is enough
                pass
    except Exception as exc:
        return [finding("batch-size-assumption", f"with a batch of {n} instead of {B}, the forward pass or loss raised "
                        f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}", "checkup",
                        evidence={"batch": n, "original_batch": B, "error": str(exc)[:500]})], {"batch": n, "error": str(exc)[:200]}
    main = main_output(out)
    if main is not None and main.shape[0] != n:
        return [finding("batch-size-assumption", f"with a batch of {n} instead of {B}, the output's first dimension is "
                        f"{main.shape[0]}", "checkup", evidence={"batch": n, "output_shape": list(main.shape)})], {"batch": n}
    return [], {"batch": n, "output_shape": list(main.shape) if main is not None else None}
