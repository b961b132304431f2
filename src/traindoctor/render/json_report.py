"""The JSON report and its schema (shipped in the package as report.schema.json)."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from ..vocabulary.jsonsafe import plain
from ..vocabulary.report import Report, json_text
from .base import RenderOptions


def to_json_data(report: Report) -> dict[str, Any]:
    return plain(report.to_dict())


def render(report: Report, options: RenderOptions) -> str:
    return json_text(report)  # the same text as the Monitor's report.json (vocabulary.report.save_json)


def schema() -> dict[str, Any]:
    return json.loads(resources.files("traindoctor.render").joinpath("report.schema.json").read_text())
