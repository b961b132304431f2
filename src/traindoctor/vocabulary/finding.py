"""The Finding: what was measured (`observation`, `evidence`) apart from what it suggests
(`hypotheses`, each with the cheapest check that would falsify it). Everything a producer does not
say is filled from the catalog entry of its code."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from . import catalog
from .hypothesis import Hypothesis

SEVERITY_RANK = {"error": 0, "warning": 1, "info": 2}
SOURCES = ("lint", "run", "checkup", "monitor", "curves", "data", "sweeps", "surface")  # the commands that produce findings


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
    entry = catalog.get(code)
    if source not in SOURCES:
        raise ValueError(f"unknown finding source {source!r} for {code!r}; expected one of {', '.join(SOURCES)}")
    if hypotheses is None:  # copies: a finding's hypotheses are its own to edit, the catalog's are shared
        hypotheses = [replace(h) for h in entry.hypotheses]
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
