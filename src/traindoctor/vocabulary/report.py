"""The Report: what one producer found, in the order triage gave, plus its sections."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..version import __version__
from .finding import SEVERITY_RANK as _SEVERITY_RANK, Finding


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
