"""The JSON report and its schema (shipped in the package as report.schema.json)."""

from __future__ import annotations

import json
import math
from importlib import resources
from typing import Any

from ..findings import Report


def _finite(obj: Any) -> Any:
    """JSON has no NaN/Inf: write them as the strings "nan", "inf", "-inf"."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)
    if isinstance(obj, dict):
        return {str(k): _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def to_json_data(report: Report) -> dict[str, Any]:
    return _finite(report.to_dict())


def render(report: Report) -> str:
    return json.dumps(to_json_data(report), indent=2, default=str, allow_nan=False) + "\n"


def schema() -> dict[str, Any]:
    return json.loads(resources.files("traindoctor.render").joinpath("report.schema.json").read_text())
