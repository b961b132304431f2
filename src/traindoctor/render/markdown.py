"""Markdown: for pull requests, issues and notebooks.

Everything in a report can carry user text (exception messages, paths, series and module names,
code), so every value goes through `inline` or `fenced`: it reads as written and cannot open
HTML, a link, a table cell or a block of its own.
"""

from __future__ import annotations

import html
import re

from ..vocabulary.report import Report
from .base import RenderOptions
from .headline import could_not_check, footer, header, location, notes

_ICON = {"error": "❌", "warning": "⚠️", "info": "ℹ️"}
# A code span: a run of backticks, closed by a run of the same length (CommonMark).
_CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)", re.S)
_SPECIAL = re.compile(r"([\\`*_\[\]~|#])")  # what would start emphasis, a link, a code span, a cell
_BREAK = re.compile(r"\r\n|\r|\n")


def inline(text: object, cell: bool = False) -> str:
    """One line of markdown that shows `text` as written. Its code spans (the report's own `name`
    quoting) stay code spans, which show their content literally; elsewhere HTML characters become
    entities and markdown punctuation is escaped. In a table cell a pipe is escaped even inside code."""
    text = str(text)
    out, at = [], 0
    for m in _CODE_SPAN.finditer(text):
        out += [_plain(text[at:m.start()]), _code(m.group(0), cell)]
        at = m.end()
    out.append(_plain(text[at:]))
    return "".join(out)


def _plain(text: str) -> str:
    return _BREAK.sub("<br>", _SPECIAL.sub(r"\\\1", html.escape(text, quote=False)))


def _code(span: str, cell: bool) -> str:
    span = _BREAK.sub(" ", span)
    return span.replace("|", "\\|") if cell else span


def fenced(text: str) -> list[str]:
    """A fenced code block no line of `text` can close: the fence is longer than any backtick run in it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence, text, fence]


def _row(*cells: object) -> str:
    return "| " + " | ".join(inline(c, cell=True) for c in cells) + " |"


def render(report: Report, options: RenderOptions) -> str:
    lines = [f"# {inline(header(report))}", ""]
    warning = could_not_check(report)
    if warning:
        lines += [f"> **{inline(warning)}**", ""]
    lines += [f"> note: {inline(n)}" for n in notes(report)]
    lines += [""] if notes(report) else []
    lines += [f"**{inline(footer(report))}**", ""]
    if report.findings:
        lines += ["| | code | finding |", "|---|---|---|"]
        lines += [_row(f"{_ICON[f.severity]} {f.severity}", f"`{f.code}`", f.title) for f in report.findings]
        lines.append("")
    for f in report.findings:
        lines += [f"## {_ICON[f.severity]} `{f.code}` — {inline(f.title)}", ""]
        if f.explained_by:
            lines += [f"_Follows from `{f.explained_by}`._", ""]
        lines += [f"**Observed:** {inline(f.observation)}", ""]
        if location(f):
            lines += [f"**Where:** {inline(location(f))}", ""]
        if f.hypotheses and f.severity != "info":
            lines += ["| hypothesis | kind | cheapest check |", "|---|---|---|"]
            lines += [_row(h.cause, h.kind, h.check) for h in f.hypotheses]
            lines.append("")
        if f.next_step and f.severity != "info":
            lines += [f"**Next step:** {inline(f.next_step)}", ""]
        if "traceback" in f.evidence:
            lines += [*fenced(str(f.evidence["traceback"]).rstrip()), ""]
    checkup = report.sections.get("checkup")
    if checkup:
        lines += ["## Probes", "", "| probe | status | seconds | note |", "|---|---|---:|---|"]
        lines += [_row(p["name"], p["status"], f"{p['seconds']:.2f}", p.get("note", "")) for p in checkup["probes"]]
        lines.append("")
    return "\n".join(lines)
