"""run's numerics: the first non-finite step (judged by the Monitor's rule, judge/nonfinite.py) and
input scale."""

from __future__ import annotations

from ..vocabulary.finding import Finding, finding
from ..measure.recorder import Recorder
from ..measure.stats import fmt
from .nonfinite import explain


def check(rec: Recorder) -> list[Finding]:
    out = []
    if rec.nonfinite is not None:  # the first non-finite step, explained by the Monitor's rule
        step = rec.nonfinite["step"]
        recent = [r for r in rec.records if r["step"] < step][-20:]
        out.append(explain(rec.nonfinite, recent, rec.source))
    for entry in rec.input_scale:
        if entry["columns"]:
            cols = ", ".join(f"{c} (mean {fmt(m)}, std {fmt(s)})" for c, m, s in zip(entry["columns"][:4], entry["mean"], entry["std"]))
            out.append(finding(
                "unnormalized-inputs",
                f"model input `{entry['tensor']}` (shape {entry['shape']}): {entry['n_columns']} of {entry['n_features']} "
                f"features have scale above 100 — {cols}",
                rec.source, evidence=entry, location={"tensor": entry["tensor"]},
            ))
            break
    return out
