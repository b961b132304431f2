"""Triage orders findings so the first error is the most likely root cause: severity first, then
the catalog's triage stage, and a confirmed cause is moved ahead of the symptoms it explains
(those get `explained_by`)."""

from __future__ import annotations

from . import catalog
from .finding import SEVERITY_RANK as _SEVERITY_RANK, Finding


def triage(findings: list[Finding]) -> list[Finding]:
    """Merge duplicates and order findings: most likely root cause first."""
    merged: dict[str, Finding] = {}
    for f in findings:
        if f.code in merged:  # same root cause seen twice: keep the stronger, fold the evidence
            kept = merged[f.code]
            if _SEVERITY_RANK[f.severity] < _SEVERITY_RANK[kept.severity]:
                kept, f = f, kept
                merged[kept.code] = kept
            kept.evidence.setdefault("also_seen", []).append({"source": f.source, "observation": f.observation})
        else:
            merged[f.code] = f
    present = sorted(merged, key=lambda c: (_SEVERITY_RANK[merged[c].severity], catalog.get(c).stage, c))
    for f in merged.values():
        for cause in (c for c in present if c != f.code):
            if f.code in catalog.get(cause).explains and f.explained_by is None:
                f.explained_by = cause
    # A cause inherits the severity and stage of the worst symptom it explains, so it reads first. Among the
    # findings a root cause explains, a link of the chain (misaligned targets) reads before what it explains
    # in turn (a loss that cannot learn the pairing), though both are attributed to the root.
    def key(f: Finding) -> tuple[int, int, int, int, str]:
        sev, stage, link = _SEVERITY_RANK[f.severity], catalog.get(f.code).stage, 1
        for g in merged.values():
            chained = (f.explained_by is not None and g.explained_by is not None
                       and g.code in catalog.get(f.code).explains)
            if g.explained_by == f.code or chained:
                sev, stage = min(sev, _SEVERITY_RANK[g.severity]), min(stage, catalog.get(g.code).stage)
                link = 0 if chained else link
        explained = 1 if f.explained_by else 0
        return (sev, explained, stage, link, f.code)

    return sorted(merged.values(), key=key)
