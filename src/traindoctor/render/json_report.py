"""The JSON report and its schema (shipped in the package as report.schema.json)."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from ..vocabulary.report import Report
from ..vocabulary.jsonsafe import dumps, plain


def to_json_data(report: Report) -> dict[str, Any]:
    return plain(report.to_dict())


def render(report: Report) -> str:
    return dumps(report.to_dict())  # the same text as the Monitor's report.json


def schema() -> dict[str, Any]:
    return json.loads(resources.files("traindoctor.render").joinpath("report.schema.json").read_text())
