"""Renderers present a Report; they never measure."""

from __future__ import annotations

from ..vocabulary.report import Report
from . import html, json_report, markdown, sarif, text

FORMATS = ("text", "markdown", "html", "json", "sarif")


def render(report: Report, fmt: str, *, color: bool | None = None, width: int | None = None) -> str:
    if fmt == "json":
        return json_report.render(report)
    if fmt == "markdown":
        return markdown.render(report)
    if fmt == "html":
        return html.render(report)
    if fmt == "sarif":
        return sarif.render(report)
    if fmt == "text" and "lint" in report.sections:
        return text.render_lint(report, color=color)
    if fmt == "text":
        return text.render(report, color=color, width=width)
    raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
