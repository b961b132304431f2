"""`traindoctor.checkup`: every probe of the battery on copies of the user's model, as a Report.

(The module is not named after the package's `traindoctor.checkup`, which stays the function.)"""

from __future__ import annotations

import sys
import time
from typing import Any

import torch

from ..judge import probes as probe_rules
from ..judge.thresholds import DEAD_RELU_INIT
from ..vocabulary.report import Report
from ..vocabulary.triage import triage
from ..measure.records import CheckupSection
from . import experiments, loss_terms
from .battery import could_not_check, examine
from .registry import Options, names
from .setup import SetupError, metric_function

__all__ = ["checkup", "SetupError", "PROBES", "CHEAP_PROBES"]

PROBES = names()
# The probes `run` repeats on the model and batch it captured: one or two forward passes each.
CHEAP_PROBES = names(cheap=True)


def checkup(model: torch.nn.Module, batch: Any, loss_fn: Any = None, optimizer: Any = None, *,
            probes: tuple[str, ...] | None = None, overfit_steps: int = 300, causal: bool | None = None,
            dead_relu_threshold: float = DEAD_RELU_INIT, progress: bool | None = None,
            experiments_: bool | None = None, metric_fn: Any = None, higher_is_better: bool = True,
            command: str = "checkup") -> Report:
    """Ask the model the playbook's questions, each on a copy; return the ordered findings.

    `batch` is `(inputs, targets)` (inputs: a tensor, a tuple of tensors, or a dict of keyword
    arguments) or a dict of keyword arguments for a model that computes its own loss.
    `loss_fn(output, targets) -> loss`; `optimizer` is an instance (its class and settings are
    reused on copies) or a factory `params -> optimizer` (default AdamW, lr 3e-4).
    Nothing of the caller's is modified: model, optimizer, batch and RNG state are left as they were.
    Every probe is bounded by steps and samples, never by time. A report whose probes mostly could not
    run says so in `Report.unchecked`. When the model cannot fit the batch (the overfit probe failed), the
    experiments of the differential diagnosis (diagnosis/experiments.py) tell the learning rate, the
    weight decay and the setup apart; `experiments_` True runs them always, False never.
    `metric_fn(output, targets) -> number` (with `higher_is_better`) lets the stuck-metric probe ask why it
    would not move (traindoctor.why_stuck's decision table); without it that probe is skipped.
    """
    selected = PROBES if probes is None else tuple(probes)
    show = sys.stderr.isatty() if progress is None else progress
    started = time.monotonic()
    outcome = examine(model, batch, loss_fn, optimizer, probes=selected,
                      options=Options(overfit_steps=overfit_steps, causal=causal, dead_relu=dead_relu_threshold,
                                      metric_fn=metric_function(metric_fn), higher_is_better=higher_is_better),
                      watch=_Bar(len(selected)) if show else None)
    setup, records = outcome.setup, outcome.records
    axis = {"axis": setup.axis.axis, "size": setup.batch_size, "why": setup.axis.why}
    if setup.subsampled:
        axis["subsampled"] = setup.subsampled
    found, differential = _experiments(model, setup, optimizer, records, experiments_)
    probe_rules.follow_consequence(outcome.findings, _unfitted(records))
    if probes is None and setup.loss_fn is not None and not setup.blocked:  # multi-loss balance, with the whole battery
        record = loss_terms.checkup_record(model, setup, found)
        if setup.subsampled:  # measured on the subsample, as every probe
            record["samples"] = setup.subsampled
        records.append(record)
    section = CheckupSection(probes=records, seconds=round(time.monotonic() - started, 3), model=type(model).__name__,
                             batch_size=setup.batch_size, batch_axis=axis, experiments=differential)
    unchecked = [setup.blocked] if setup.blocked else could_not_check(records)
    return Report(command=command, findings=triage(outcome.findings + found), sections={"checkup": section},
                  unchecked=unchecked)


def _unfitted(records: list[Any]) -> str | None:
    """Why the loss does not learn, as checkup sees it: the overfit probe ran and the model did not fit."""
    overfit = next((r for r in records if r["name"] == "overfit" and r["status"] == "ran"), None)
    return "the model did not fit the batch" if overfit is not None and not overfit["passed"] else None


def _experiments(model: torch.nn.Module, setup: Any, optimizer: Any, records: list[Any],
                 when: bool | None) -> tuple[list[Any], dict[str, Any]]:
    """The differential diagnosis on the checkup's batch, when the overfit probe failed or when asked."""
    overfit = next((r for r in records if r["name"] == "overfit" and r["status"] == "ran"), None)
    reason = ("asked for" if when else None) if when is not None else _unfitted(records)
    if reason is None or setup.blocked or setup.loss_fn is None:
        why = "--no-experiments" if when is False else ("no loss_fn given" if setup.loss_fn is None and reason
                                                         else "the model fits the batch" if overfit else "not asked")
        return [], {"ran": False, "why": why}
    if isinstance(setup.inputs, experiments.Call):
        batch = (tuple(setup.inputs[0]), dict(setup.inputs[1]))
    elif isinstance(setup.inputs, dict):
        batch = ((), dict(setup.inputs))
    else:
        batch = (tuple(setup.inputs) if isinstance(setup.inputs, (tuple, list)) else (setup.inputs,), {})
    head = experiments.FunctionLoss(batch, setup.targets, setup.loss_fn)
    # The caller's optimizer gives its class and settings; without one, checkup's default (never stepped).
    opt = optimizer if isinstance(optimizer, torch.optim.Optimizer) else setup.make_optimizer(
        [p for p in model.parameters() if p.requires_grad])
    try:
        found, observations = experiments.run(experiments.Material(model, [head], opt), reason, source="checkup")
    except experiments.CannotExperiment as exc:
        return [], {"ran": False, "why": f"{reason}, but {exc}"}
    return found, {"ran": True, "why": reason, "observations": observations}


class _Bar:
    """checkup's progress bar on stderr: one line for the battery, one for the steps of a long probe."""

    def __init__(self, total: int):
        self.total = total
        self.bar: Any = None
        self.task: Any = None
        self.steps: Any = None

    def __enter__(self) -> "_Bar":
        # imported here, under the battery's isolation: rich draws from `random` when it is first imported
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self.bar = Progress(TextColumn("[bold]checkup[/] {task.description}"), BarColumn(),
                            TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
                            console=Console(stderr=True), transient=True)
        self.bar.__enter__()
        self.task = self.bar.add_task("", total=self.total)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.bar.__exit__(*exc)

    def probe(self, name: str) -> None:
        self.bar.update(self.task, description=name)

    def tick(self, done: int, total: int, what: str) -> None:
        if self.steps is None:
            self.steps = self.bar.add_task(what, total=total)
        self.bar.update(self.steps, completed=done, total=total, description=what)

    def done(self) -> None:
        if self.steps is not None:
            self.bar.remove_task(self.steps)
            self.steps = None
        self.bar.advance(self.task)
