"""run's numerics: the first non-finite step (judged by the Monitor's rule, judge/nonfinite.py) and
input scale."""

from __future__ import annotations

from ..vocabulary.finding import Finding, finding
from ..measure.recorder import Recorder
from ..vocabulary.numbers import fmt
from .nonfinite import explain
from .thresholds import UNNORMALIZED_SCALE


def check(rec: Recorder) -> list[Finding]:
    out = []
    if rec.nonfinite is not None:  # the first non-finite step, explained by the Monitor's rule
        step = rec.nonfinite["step"]
        recent = [r for r in rec.records if r["step"] < step]
        out.append(explain(rec.nonfinite, recent, rec.source))
    for seen in rec.input_scale:
        bad = sorted((i for i, v in enumerate(seen["scale"]) if v > UNNORMALIZED_SCALE), key=lambda i: seen["columns"][i])
        if bad:
            evidence = {"tensor": seen["tensor"], "shape": seen["shape"], "feature_dim": seen["feature_dim"],
                        "columns": [seen["columns"][i] for i in bad[:8]], "n_columns": len(bad),
                        "n_features": seen["n_features"], "mean": [seen["mean"][i] for i in bad[:8]],
                        "std": [seen["std"][i] for i in bad[:8]], "max_scale": seen["scale"][0]}
            cols = ", ".join(f"{c} (mean {fmt(m)}, std {fmt(s)})"
                             for c, m, s in zip(evidence["columns"][:4], evidence["mean"], evidence["std"]))
            out.append(finding(
                "unnormalized-inputs",
                f"model input `{seen['tensor']}` (shape {seen['shape']}): {len(bad)} of {seen['n_features']} "
                f"features have scale above {UNNORMALIZED_SCALE:g} — {cols}",
                rec.source, evidence=evidence, location={"tensor": seen["tensor"]},
            ))
            break
    return out
