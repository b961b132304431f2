"""One-line descriptions shared by the text and markdown renderers."""

from __future__ import annotations

from ..vocabulary.finding import Finding
from ..vocabulary.report import Report

_STOPPED = {
    "completed": "ran to completion",
    "max-steps": "stopped at the step budget",
    "max-seconds": "stopped at the time budget",
    "script-error": "the script raised an exception",
    "exited": "the script exited with status {status}",
    "os-exit": "the script called os._exit({status})",
    "interrupted": "interrupted",
}


def header(report: Report) -> str:
    line = f"traindoctor {report.command}"
    run = report.sections.get("run")
    if run:
        steps = (f"{run['steps']} optimizer steps" if run["steps"] or not run.get("backward_calls")
                 else f"{run['backward_calls']} backward passes (no torch.optim optimizer seen)")
        stopped = _STOPPED.get(run["stopped"], run["stopped"]).format(status=run.get("exit_status"))
        line += f" — {stopped} after {steps} ({run['seconds']:.1f} s)"
    checkup = report.sections.get("checkup")
    if checkup:
        probes = checkup["probes"]
        ran = sum(p["status"] == "ran" for p in probes)
        line += f" — {ran} of {len(probes)} probes ran on copies of `{checkup['model']}` ({checkup['seconds']:.1f} s)"
    data = report.sections.get("data")
    if data and data.get("splits"):
        splits = data["splits"]
        rows = ", ".join(f"{name} {split['rows']:,} rows" for name, split in splits.items())
        dims = len(next(iter(splits.values()))["dims"])
        line += f" — {rows}, {dims} numeric dimension{'s' * (dims != 1)}"
    return line


def could_not_check(report: Report) -> str | None:
    """The headline's warning when the producer could not look; None when it could."""
    if not report.unchecked:
        return None
    return "COULD NOT CHECK: " + "; ".join(report.unchecked)


def notes(report: Report) -> list[str]:
    """What a producer read around or reinterpreted (corrupt lines skipped, runs appended to one log):
    the `notes` of any section, shown under the headline."""
    return [n for section in report.sections.values() if isinstance(section, dict)
            for n in section.get("notes", ()) if isinstance(n, str)]


def location(f: Finding) -> str:
    loc = f.location
    parts = []
    if loc.get("file"):
        parts.append(f"{loc['file']}:{loc['line']}" if loc.get("line") else loc["file"])
    if loc.get("module"):
        parts.append(f"module `{loc['module']}`")
    if loc.get("step") is not None:
        parts.append(f"step {loc['step']}")
    return ", ".join(parts)


def footer(report: Report) -> str:
    s = report.summary()
    counts = [f"{s['errors']} error{'s' * (s['errors'] != 1)}", f"{s['warnings']} warning{'s' * (s['warnings'] != 1)}"]
    if s["infos"]:
        counts.append(f"{s['infos']} info")
    if report.unchecked and not s["errors"]:
        return "could not check (exit 2) · " + ", ".join(counts)
    if not report.findings:
        return "no problem found · " + ", ".join(counts)
    tail = f" · most likely root cause: {s['root_cause']}" if s["errors"] else ""
    return ", ".join(counts) + tail
