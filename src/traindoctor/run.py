"""`traindoctor run`: execute a training script in-process under observe-only hooks."""

from __future__ import annotations

import contextlib
import gc
import os
import runpy
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Sequence, TextIO

from . import rules
from .findings import Finding, Report, finding, triage
from .battery import CHEAP_PROBES, checkup
from .probes import batch_mixing
from .probes.setup import SetupError
from .record.hooks import installed
from .record.recorder import Recorder, StopRun
from .rules.common import main_model

_PKG_DIR = os.path.dirname(os.path.abspath(__file__))


class ScriptNotFound(Exception):
    pass


def _user_traceback(exc: BaseException) -> tuple[str, dict[str, Any]]:
    """The traceback without traindoctor's and runpy's frames, and the innermost user frame."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if not f.filename.startswith(_PKG_DIR) and "runpy" not in f.filename]
    text = "Traceback (most recent call last):\n" + "".join(traceback.format_list(frames))
    text += "".join(traceback.format_exception_only(type(exc), exc))
    site = [f for f in frames if "site-packages" not in f.filename and "/lib/python" not in f.filename]
    last = (site or frames or [None])[-1]
    return text, ({"file": last.filename, "line": last.lineno} if last else {})


def _script_error(exc: BaseException, rec: Recorder) -> Finding:
    text, location = _user_traceback(exc)
    summary = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    return finding(
        "script-error",
        f"the script raised {summary.splitlines()[-1]} after {rec.n_steps} optimizer steps",
        "run", evidence={"traceback": text, "exception": type(exc).__name__, "steps": rec.n_steps},
        location={**location, "step": rec.n_steps},
    )


@contextlib.contextmanager
def _as_main(script: Path, args: Sequence[str], stdout: TextIO | None):
    """sys.argv and sys.path as `python SCRIPT ARGS` sets them; restored afterwards."""
    saved_argv, saved_path = sys.argv, sys.path[:]
    sys.argv = [str(script), *args]
    sys.path.insert(0, str(script.resolve().parent))
    redirect = contextlib.redirect_stdout(stdout) if stdout is not None else contextlib.nullcontext()
    try:
        with redirect:
            yield
    finally:
        sys.argv, sys.path[:] = saved_argv, saved_path


TRAINED_DEAD_RELU = 0.9  # after training, only a nearly dead layer is a finding (see probes/activations.py)


def _cheap_probes(model: Any, args: tuple, kwargs: dict) -> tuple[list[Finding], list[dict[str, Any]]]:
    """checkup's one-forward probes on the model as training left it, with its last training batch."""
    if args and kwargs:  # a call the checkup batch forms cannot express; batch independence still can
        f, record = batch_mixing.probe(model, args, kwargs)
        return ([f] if f else []), [record]
    inputs = dict(kwargs) if kwargs else (args[0] if len(args) == 1 else tuple(args))
    try:
        report = checkup(model, (inputs, None), probes=CHEAP_PROBES, progress=False, dead_relu_threshold=TRAINED_DEAD_RELU)
    except SetupError as exc:
        return [], [{"name": "cheap-probes", "status": "skipped", "note": str(exc)}]
    return report.findings, report.sections["checkup"]["probes"]


def run_script(script: str | os.PathLike, args: Sequence[str] = (), *, max_steps: int = 300,
               max_seconds: float | None = None, probes: bool = True, stdout: TextIO | None = None) -> Report:
    """Run SCRIPT as `__main__` under traindoctor's hooks and return the diagnosis.

    Stops after `max_steps` optimizer steps (0: run to completion) or `max_seconds`.
    The script's own exceptions become a `script-error` finding. `stdout` redirects what
    the script prints (the report itself is never printed here).
    """
    script = Path(script)
    if not script.is_file():
        what = "is a directory" if script.is_dir() else "no such file"
        raise ScriptNotFound(f"{script}: {what}; pass the path of a Python training script")
    rec = Recorder(max_steps=max_steps, max_seconds=max_seconds)
    found: list[Finding] = []
    started = time.monotonic()
    with _as_main(script, args, stdout):
        with installed(rec):
            try:
                runpy.run_path(str(script), run_name="__main__")
            except StopRun:
                pass
            except SystemExit as exc:
                if exc.code not in (0, None):
                    found.append(finding("script-error", f"the script exited with status {exc.code} after {rec.n_steps} optimizer steps",
                                         "run", evidence={"exit_status": exc.code, "steps": rec.n_steps}))
            except KeyboardInterrupt:
                rec.stop_reason = "interrupted"
            except BaseException as exc:  # the user's bug, reported as a finding
                found.append(_script_error(exc, rec))
                rec.stop_reason = "script-error"
    rec.stop_reason = rec.stop_reason or "completed"
    duration = time.monotonic() - started
    gc.collect()  # drop frames of the stopped script (and any DataLoader workers they hold)
    rule_findings, internal_errors = rules.analyze(rec)
    found += rule_findings
    for note in internal_errors:
        print(f"traindoctor: {note} (a bug in traindoctor; other rules still ran)", file=sys.stderr)
    probe_records: list[dict[str, Any]] = []
    model = main_model(rec)
    if probes and model is not None and model.last_call is not None:
        probe_findings, probe_records = _cheap_probes(model.module, *model.last_call)
        found += probe_findings
    section = {
        "script": str(script), "args": list(args), "stopped": rec.stop_reason, "steps": rec.n_steps,
        "seconds": round(duration, 3), "backward_calls": rec.backward_calls,
        "optimizers": [{"class": type(st.opt).__name__, "steps": st.steps, "lr": [float(g["lr"]) for g in st.opt.param_groups]}
                       for st in rec.optimizers.values()],
        "schedulers": list(rec.schedulers.values()),
        "models": [{"class": type(i.module).__name__, "training_calls": i.grad_calls, "eval_calls": i.nograd_calls}
                   for i in rec.roots.values()],
        "loss_functions": rec.loss_calls,
        "probes": probe_records,
        "internal_errors": internal_errors,
        "steps_record": rec.records,
    }
    command = " ".join(["run", str(script), *args])
    return Report(command=command, findings=triage(found), sections={"run": section})
