"""A Monitor's log directory: a fresh log per run, and the report read back from it.

A new Monitor never writes into an earlier run's log: the files a monitor writes that it finds in
`log_dir` (report.json, monitor.jsonl, monitor.csv, TensorBoard event files) are moved to
`log_dir/previous-N/` (the next free N, so the numbers follow the runs' order), with a warning.
Nothing is deleted, and no earlier report.json can describe the new run.

`load_run` reads report.json, written when the Monitor closes; without it (a killed run), or when
it is unreadable, the report is rebuilt from monitor.jsonl by the same rules the Monitor runs
online. What was read around (an unreadable report.json, damaged lines) goes into the section's
`notes`; what could not be checked (no record, records of the wrong shape, the monitor disabled
itself: a `could_not_check` line it wrote) into `unchecked`. This module does not import torch:
`traindoctor report` stays quick.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

from ..vocabulary.finding import Finding, Hypothesis
from ..vocabulary.report import Report
from ..vocabulary.triage import triage
from .history import History
from ..measure.records import MonitorSection
from ..judge.nonfinite import RECENT, NonfiniteRule
from ..judge.steps import StepRules
from ..vocabulary.jsonsafe import restored
from .sinks import scan_jsonl

LOG_FILES = ("report.json", "monitor.jsonl", "monitor.csv")


class LogError(ValueError):
    """A log directory that cannot be reported on; the message names the file and what to do."""


def start_fresh(log_dir: Path) -> Path | None:
    """Move an earlier run's log out of the way (see the module's docstring); returns where to."""
    earlier = sorted(p for p in log_dir.iterdir()
                     if p.is_file() and (p.name in LOG_FILES or p.name.startswith("events.out.tfevents.")))
    if not earlier:
        return None
    n = 1
    while (log_dir / f"previous-{n}").exists():
        n += 1
    target = log_dir / f"previous-{n}"
    target.mkdir()
    for p in earlier:
        p.rename(target / p.name)
    warnings.warn(f"traindoctor: {log_dir} held the log of an earlier run; moved {', '.join(p.name for p in earlier)} "
                  f"to {target} so this run starts a fresh log", UserWarning, stacklevel=3)
    return target


def load_run(run_dir: str | Path) -> Report:
    """A Report from a monitor's log directory (its report.json, else rebuilt from monitor.jsonl)."""
    run_dir = Path(run_dir)
    report_file, log = run_dir / "report.json", run_dir / "monitor.jsonl"
    if not run_dir.is_dir():
        raise LogError(f"{run_dir}: no such directory (pass the log_dir given to traindoctor.Monitor)")
    notes = []
    if report_file.is_file():
        try:
            return _from_report(report_file, run_dir)
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            problem = f"{report_file} is unreadable ({type(exc).__name__}: {exc}; truncated or corrupt?)"
            if not log.is_file():
                raise LogError(f"{problem} and there is no monitor.jsonl to rebuild the report from; "
                               f"re-run the training, or delete {report_file}") from None
            notes.append(f"{problem}: the report was rebuilt from {log}")
            warnings.warn(f"traindoctor: {notes[-1]}", UserWarning, stacklevel=2)
    if log.is_file():
        return _from_log(log, run_dir, notes)
    raise LogError(f"{run_dir}: no report.json or monitor.jsonl (is it a traindoctor monitor log_dir?)")


def _from_report(path: Path, run_dir: Path) -> Report:
    data = restored(json.loads(path.read_text(encoding="utf-8")))
    findings = [Finding(**{**f, "hypotheses": [Hypothesis(**h) for h in f["hypotheses"]]}) for f in data["findings"]]
    unchecked = list(data["summary"].get("could_not_check", []))
    return Report(command=f"report {run_dir}", findings=findings, sections={"monitor": data.get("monitor", {})},
                  unchecked=unchecked)


def _from_log(log: Path, run_dir: Path, notes: list[str]) -> Report:
    try:
        records, bad_lines = scan_jsonl(log)
    except OSError as exc:
        raise LogError(f"{log}: cannot be read ({exc})") from None
    unchecked = [str(r.pop("could_not_check")) for r in records if "could_not_check" in r]
    records = [r for r in records if len(r) > 1]  # a line that only said why the monitor stopped checking
    if not notes:
        notes.append("no report.json: the run did not close its Monitor (killed, crashed or still running); this "
                     "report is rebuilt from monitor.jsonl up to its last complete line")
    if bad_lines:
        shown = ", ".join(map(str, bad_lines[:5])) + (" ..." if len(bad_lines) > 5 else "")
        notes.append(f"{len(bad_lines)} line(s) of {log} are not monitor records and were skipped (line {shown})")
    if not records:
        unchecked.append(f"{log} holds no monitor record: nothing was observed")
    rules, nonfinite, history, found, odd = StepRules("monitor"), NonfiniteRule(), History(), [], []
    for i, r in enumerate(records):
        try:
            found += nonfinite.observe(r, records[max(0, i - RECENT):i])
            found += rules.observe(r)
            history.add(r)
        except (TypeError, ValueError, KeyError, AttributeError):  # a record with fields of the wrong type
            odd.append(r["step"])
    if odd:
        unchecked.append(f"{len(odd)} record(s) of {log} have fields of the wrong type and were not checked "
                         f"(step {', '.join(map(str, odd[:5]))})")
    section: MonitorSection = {
        "steps": len(records), "flight_recorder": records[-200:], "history": history.to_dict(), "log_dir": str(run_dir),
        "rebuilt_from": str(log), "notes": notes}
    return Report(command=f"report {run_dir}", findings=triage(found), sections={"monitor": section}, unchecked=unchecked)
