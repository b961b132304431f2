"""Renderers present a Report; they never measure. Adding a format: one module with
`render(report, options)` and one line in RENDERERS."""

from __future__ import annotations

from typing import Any

from ..vocabulary.report import Report
from . import html, json_report, markdown, sarif, text
from .base import Renderer, RenderOptions

RENDERERS: dict[str, Renderer] = {
    "text": Renderer(text.render, "the terminal, plain when piped (lint: one path:line:col line per finding)", ".txt",
                     document=False),
    "markdown": Renderer(markdown.render, "pull requests, issues, notebooks", ".md"),
    "html": Renderer(html.render, "one self-contained file with the figures", ".html"),
    "json": Renderer(json_report.render, "the full record, validated by the shipped JSON Schema", ".json"),
    "sarif": Renderer(sarif.render, "SARIF 2.1.0 for code-scanning services", ".sarif"),
}
DEFAULT_FORMAT = "text"


def renderer(fmt: str) -> Renderer:
    try:
        return RENDERERS[fmt]
    except KeyError:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(RENDERERS)}") from None


def render(report: Report, fmt: str, **options: Any) -> str | bytes:
    """The report in format `fmt`; `options` are RenderOptions' fields."""
    return renderer(fmt).render(report, RenderOptions(**options))
