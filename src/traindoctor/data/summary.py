"""The `data` section of a report: what was measured per split and dimension, whatever was found."""

from __future__ import annotations

from typing import Any, TypedDict

import numpy as np

from ..measure.profile import Profile

MAX_DIMS = 200  # dimensions described per split; the rest are counted
QUANTILES = (0.01, 0.25, 0.5, 0.75, 0.99)


class DataSection(TypedDict):
    domain: str
    seconds: float
    roles: dict[str, Any]  # target, time, groups, ids
    notes: list[str]  # what was read around, sampled or left out
    splits: dict[str, dict[str, Any]]  # per split: rows, dims {name: statistics}, text {name: counts}


def section(profiles: list[Profile], roles: dict, domain: str, notes: list[str], seconds: float) -> DataSection:
    return DataSection(domain=domain, seconds=round(seconds, 3), roles=roles, notes=notes,
                       splits={p.name: _split(p) for p in profiles})


def _split(p: Profile) -> dict[str, Any]:
    dims = p.dims()
    out: dict[str, Any] = {"rows": p.rows, "dims": {}, "text": {}}
    if p.hashes.sampled < 1:
        out["hash_sample"] = round(p.hashes.sampled, 6)
    for column, i, name in dims[:MAX_DIMS]:
        out["dims"][name] = _dim(p, column, i)
    if len(dims) > MAX_DIMS:
        out["dims_left_out"] = len(dims) - MAX_DIMS
    for column, lay in p.layouts.items():
        if lay.kind == "text":
            counts = p.counts[column][0].counts
            top = sorted(counts.items(), key=lambda kv: -kv[1])[:5] if counts is not None else []
            out["text"][column] = {"missing": p.text_missing[column], "distinct": len(counts) if counts is not None else None,
                                   "top": [[str(k), v] for k, v in top]}
    return out


def _dim(p: Profile, column: str, i: int) -> dict[str, Any]:
    m = p.moments[column]
    lay = p.layouts[column]
    sample = p.sampled(column, i)
    sample = sample[np.isfinite(sample)]
    stats: dict[str, Any] = {"count": int(m.n[i]), "missing": int(m.missing[i]), "infinite": int(m.infinite[i])}
    if m.n[i]:
        stats.update(mean=float(m.mean[i]), std=float(m.std[i]), min=float(m.min[i]), max=float(m.max[i]))
    if len(sample):
        # pooled (image-like) dimensions sample per-row means: their quantiles say so
        key = "row_mean_quantiles" if lay.pooled else "quantiles"
        stats[key] = {f"q{int(q * 100):02d}": float(v) for q, v in zip(QUANTILES, np.quantile(sample, QUANTILES))}
    if column in p.counts:
        stats["distinct"] = p.counts[column][i].distinct  # None: more than counted
    if lay.pooled:
        stats["pooled"] = True
    return stats
