"""Markdown: for pull requests, issues and notebooks."""

from __future__ import annotations

from ..findings import Report
from .headline import could_not_check, footer, header, location

_ICON = {"error": "❌", "warning": "⚠️", "info": "ℹ️"}


def render(report: Report) -> str:
    lines = [f"# {header(report)}", ""]
    warning = could_not_check(report)
    if warning:
        lines += [f"> **{warning}**", ""]
    lines += [f"**{footer(report)}**", ""]
    if report.findings:
        lines += ["| | code | finding |", "|---|---|---|"]
        lines += [f"| {_ICON[f.severity]} {f.severity} | `{f.code}` | {f.title} |" for f in report.findings]
        lines.append("")
    for f in report.findings:
        lines += [f"## {_ICON[f.severity]} `{f.code}` — {f.title}", ""]
        if f.explained_by:
            lines += [f"_Follows from `{f.explained_by}`._", ""]
        lines += [f"**Observed:** {f.observation}", ""]
        if location(f):
            lines += [f"**Where:** {location(f)}", ""]
        if f.hypotheses and f.severity != "info":
            lines += ["| hypothesis | kind | cheapest check |", "|---|---|---|"]
            lines += [f"| {h.cause} | {h.kind} | {h.check} |" for h in f.hypotheses]
            lines.append("")
        if f.next_step and f.severity != "info":
            lines += [f"**Next step:** {f.next_step}", ""]
        if "traceback" in f.evidence:
            lines += ["```", f.evidence["traceback"].rstrip(), "```", ""]
    checkup = report.sections.get("checkup")
    if checkup:
        lines += ["## Probes", "", "| probe | status | seconds | note |", "|---|---|---:|---|"]
        lines += [f"| {p['name']} | {p['status']} | {p['seconds']:.2f} | {p.get('note', '')} |" for p in checkup["probes"]]
        lines.append("")
    return "\n".join(lines)
