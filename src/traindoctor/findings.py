"""The Finding model, the Report, and the triage that orders findings.

A Finding states what was measured (`observation`, `evidence`) apart from what it
suggests (`hypotheses`, each with the cheapest check that would falsify it).
Triage orders findings so the first error is the most likely root cause: severity
first, then the catalog's triage stage, and a confirmed cause is moved ahead of
the symptoms it explains (those get `explained_by`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from . import __version__, codes

_SEVERITY_RANK = {"error": 0, "warning": 1, "info": 2}


@dataclass
class Hypothesis:
    cause: str
    check: str
    kind: str = "likely"


@dataclass
class Finding:
    code: str
    severity: str
    title: str
    observation: str
    source: str
    evidence: dict[str, Any] = field(default_factory=dict)
    hypotheses: list[Hypothesis] = field(default_factory=list)
    next_step: str = ""
    location: dict[str, Any] = field(default_factory=dict)
    explained_by: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def finding(code: str, observation: str, source: str, *, evidence: dict | None = None,
            severity: str | None = None, location: dict | None = None,
            hypotheses: list[Hypothesis] | None = None, next_step: str | None = None,
            title: str | None = None) -> Finding:
    """Build a Finding, filling everything not given from the catalog entry."""
    entry = codes.get(code)
    if hypotheses is None:
        hypotheses = [Hypothesis(h.cause, h.check, h.kind) for h in entry.hypotheses]
    return Finding(
        code=code,
        severity=severity or entry.severity,
        title=title or entry.title,
        observation=observation,
        source=source,
        evidence=evidence or {},
        hypotheses=hypotheses,
        next_step=next_step if next_step is not None else entry.next_step,
        location={k: v for k, v in (location or {}).items() if v is not None},
    )


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
    present = sorted(merged, key=lambda c: (_SEVERITY_RANK[merged[c].severity], codes.get(c).stage, c))
    for f in merged.values():
        for cause in (c for c in present if c != f.code):
            if f.code in codes.get(cause).explains and f.explained_by is None:
                f.explained_by = cause
    # A cause inherits the severity and stage of the worst symptom it explains, so it reads first.
    def key(f: Finding) -> tuple[int, int, str]:
        sev, stage = _SEVERITY_RANK[f.severity], codes.get(f.code).stage
        for g in merged.values():
            if g.explained_by == f.code:
                sev, stage = min(sev, _SEVERITY_RANK[g.severity]), min(stage, codes.get(g.code).stage)
        explained = 1 if f.explained_by else 0
        return (sev, explained, stage, f.code)

    return sorted(merged.values(), key=key)


@dataclass
class Report:
    """`unchecked` lists why the producer could not look (nothing observed, monitor disabled,
    most probes failed): such a report never reads "no problem found" and exits 2 unless it
    found an error anyway."""

    command: str
    findings: list[Finding]
    sections: dict[str, Any] = field(default_factory=dict)
    unchecked: list[str] = field(default_factory=list)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def exit_code(self) -> int:
        if self.errors:
            return 1
        return 2 if self.unchecked else 0

    def summary(self) -> dict[str, Any]:
        count = {s: sum(f.severity == s for f in self.findings) for s in _SEVERITY_RANK}
        root = self.findings[0].code if self.findings else None  # triage put the likeliest cause first
        return {"errors": count["error"], "warnings": count["warning"], "infos": count["info"], "root_cause": root,
                "could_not_check": list(self.unchecked)}

    def to_dict(self) -> dict[str, Any]:
        out = {
            "tool": "traindoctor",
            "version": __version__,
            "command": self.command,
            "findings": [f.to_dict() for f in self.findings],
            "summary": self.summary(),
        }
        out.update(self.sections)
        return out
