"""What a person auditing data looks at first, added to the report's `data` section for the renderers:
a histogram per dimension (from the uniform row sample, scaled to the split's rows; the same bins in every
split, so training and evaluation overlay) and the class counts of each class target."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..judge.columns import _is_classes
from ..measure.profile import Profile
from .roles import Roles
from .summary import MAX_DIMS

BINS = 30
RANGE = (0.005, 0.995)  # bins span these quantiles of training: one outlier does not flatten the rest
CLASSES_SHOWN = 50


def describe(data: dict[str, Any], profiles: list[Profile], roles: Roles | None) -> None:
    train = profiles[0]
    edges = {name: e for column, i, name in train.dims()[:MAX_DIMS]
             if (e := _edges(train.sampled(column, i))) is not None}
    for p in profiles:
        split = data["splits"][p.name]
        for column, i, name in p.dims()[:MAX_DIMS]:
            if name in edges and name in split["dims"]:
                split["dims"][name]["histogram"] = _histogram(p.sampled(column, i), edges[name], p.rows)
        if roles is not None:
            classes = {c: _classes(p, c) for c in roles.target if _is_classes(p, c)}
            if classes:
                split["classes"] = classes


def _edges(sample: np.ndarray) -> np.ndarray | None:
    values = sample[np.isfinite(sample)]
    if len(values) < 2:
        return None
    lo, hi = np.quantile(values, RANGE)
    if hi <= lo:
        lo, hi = values.min(), values.max()
    if hi <= lo:
        return None  # constant: said by constant-feature, nothing to draw
    return np.linspace(lo, hi, BINS + 1)


def _histogram(sample: np.ndarray, edges: np.ndarray, rows: int) -> dict[str, Any]:
    """Counts per bin scaled from the sample to the split's rows; values outside the bins counted apart."""
    values = sample[np.isfinite(sample)]
    scale = rows / len(sample) if len(sample) else 0.0
    counts, _ = np.histogram(values, edges)
    return {"edges": [float(e) for e in edges], "counts": [round(float(c) * scale, 1) for c in counts],
            "below": round(float((values < edges[0]).sum()) * scale, 1),
            "above": round(float((values > edges[-1]).sum()) * scale, 1), "sampled": int(len(sample))}


def _classes(p: Profile, column: str) -> dict[str, int]:
    counts = p.counts[column][0].counts or {}
    top = sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))[:CLASSES_SHOWN]
    return {_label(k): int(v) for k, v in top}


def _label(k: Any) -> str:
    return str(int(k)) if isinstance(k, float) and k.is_integer() else str(k)
