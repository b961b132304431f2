"""SARIF 2.1.0, the format code-scanning services read."""

from __future__ import annotations

import json

from ..version import __version__
from ..vocabulary import catalog
from ..vocabulary.report import Report
from .base import RenderOptions

_LEVEL = {"error": "error", "warning": "warning", "info": "note"}


def render(report: Report, options: RenderOptions) -> str:
    used = sorted({f.code for f in report.findings})
    rules = [{"id": c, "name": c, "shortDescription": {"text": catalog.get(c).title},
              "fullDescription": {"text": catalog.get(c).what},
              "help": {"text": f"{catalog.get(c).why} Fix: {catalog.get(c).next_step}"},
              "defaultConfiguration": {"level": _LEVEL[catalog.get(c).severity]}} for c in used]
    results = []
    for f in report.findings:
        loc = f.location
        region = {"startLine": loc.get("line", 1), "startColumn": loc.get("column", 1)}
        result = {"ruleId": f.code, "ruleIndex": used.index(f.code), "level": _LEVEL[f.severity],
                  "message": {"text": f.observation},
                  "locations": [{"physicalLocation": {"artifactLocation": {"uri": loc.get("file", "")}, "region": region}}]}
        if "cell" in loc:
            result["properties"] = {"cell": loc["cell"]}
        results.append(result)
    doc = {"$schema": "https://json.schemastore.org/sarif-2.1.0.json", "version": "2.1.0",
           "runs": [{"tool": {"driver": {"name": "traindoctor", "version": __version__,
                                         "informationUri": "https://github.com/traindoctor/traindoctor", "rules": rules}},
                     "results": results,
                     # a report that could not look is not a clean scan
                     "invocations": [{"executionSuccessful": not report.unchecked,
                                      "toolExecutionNotifications": [{"level": "error", "message": {"text": reason}}
                                                                     for reason in report.unchecked]}]}]}
    return json.dumps(doc, indent=2) + "\n"
