"""Triage orders findings so the first error is the most likely root cause: severity first, then
the catalog's triage stage, and a confirmed cause is moved ahead of the symptoms it explains
(those get `explained_by`); an explanation a producer measured overrides the catalog's. Of two causes alike in severity and stage, neither explaining the other, the one
that accounts for more of what was found reads first: its consequences were observed."""

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
    # How many of the findings each code's entry explains: a symptom two causes could explain is put down to
    # the one that accounts for more.
    accounts = {c: sum(e in merged and e != c for e in catalog.get(c).explains) for c in merged}
    present = sorted(merged, key=lambda c: (_SEVERITY_RANK[merged[c].severity], catalog.get(c).stage, -accounts[c], c))
    # An explanation a producer measured (evidence["explains"]) stands before the catalog's, which never reverses it.
    for f in merged.values():
        for code in f.evidence.get("explains", ()):
            if code in merged and code != f.code:
                merged[code].explained_by = f.code
    for f in merged.values():
        for cause in (c for c in present if c != f.code):
            if f.code in catalog.get(cause).explains and f.explained_by is None and merged[cause].explained_by != f.code:
                f.explained_by = cause

    def depth(code: str, seen: frozenset[str]) -> int:
        """How many present causes stand above it, along the longest chain (a root cause explains a mechanism,
        which explains a symptom: the mechanism reads before the symptom though both are explained)."""
        causes = [c for c in present if c not in seen and c != code
                  and (code in catalog.get(c).explains or merged[code].explained_by == c)]
        return 1 + max(depth(c, seen | {code}) for c in causes) if causes else 0

    # A cause inherits the severity and stage of the worst symptom it explains, directly or through a chain
    # (too high a rate -> dead units -> an output that ignores its inputs), so it reads first.
    def key(f: Finding) -> tuple[int, int, int, int, str]:
        sev, stage = _SEVERITY_RANK[f.severity], catalog.get(f.code).stage
        for g in merged.values():
            if f.code in _causes(g, merged):
                sev, stage = min(sev, _SEVERITY_RANK[g.severity]), min(stage, catalog.get(g.code).stage)
        return (sev, depth(f.code, frozenset()) if f.explained_by else 0, stage, -accounts[f.code], f.code)

    return sorted(merged.values(), key=key)


def _causes(f: Finding, merged: dict[str, Finding]) -> set[str]:
    """The findings `f` follows from: its explanation, that one's, and so on."""
    out: set[str] = set()
    while f.explained_by and f.explained_by not in out and f.explained_by in merged:
        out.add(f.explained_by)
        f = merged[f.explained_by]
    return out
