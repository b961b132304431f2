"""`traindoctor.checkup`: every probe of the battery on copies of the user's model, as a Report.

(The module is not named after the package's `traindoctor.checkup`, which stays the function.)"""

from __future__ import annotations

import sys
import time
from typing import Any

import torch

from ..judge.thresholds import DEAD_RELU_INIT
from ..vocabulary.report import Report
from ..vocabulary.triage import triage
from ..measure.records import CheckupSection
from .battery import could_not_check, examine
from .registry import Options, names
from .setup import SetupError

__all__ = ["checkup", "SetupError", "PROBES", "CHEAP_PROBES"]

PROBES = names()
# The probes `run` repeats on the model and batch it captured: one or two forward passes each.
CHEAP_PROBES = names(cheap=True)


def checkup(model: torch.nn.Module, batch: Any, loss_fn: Any = None, optimizer: Any = None, *,
            probes: tuple[str, ...] | None = None, overfit_steps: int = 300, causal: bool | None = None,
            dead_relu_threshold: float = DEAD_RELU_INIT, progress: bool | None = None,
            command: str = "checkup") -> Report:
    """Ask the model the playbook's questions, each on a copy; return the ordered findings.

    `batch` is `(inputs, targets)` (inputs: a tensor, a tuple of tensors, or a dict of keyword
    arguments) or a dict of keyword arguments for a model that computes its own loss.
    `loss_fn(output, targets) -> loss`; `optimizer` is an instance (its class and settings are
    reused on copies) or a factory `params -> optimizer` (default AdamW, lr 3e-4).
    Nothing of the caller's is modified: model, optimizer, batch and RNG state are left as they were.
    Every probe is bounded by steps and samples, never by time. A report whose probes mostly could not
    run says so in `Report.unchecked`.
    """
    selected = PROBES if probes is None else tuple(probes)
    show = sys.stderr.isatty() if progress is None else progress
    started = time.monotonic()
    outcome = examine(model, batch, loss_fn, optimizer, probes=selected,
                      options=Options(overfit_steps=overfit_steps, causal=causal, dead_relu=dead_relu_threshold),
                      watch=_Bar(len(selected)) if show else None)
    setup, records = outcome.setup, outcome.records
    axis = {"axis": setup.axis.axis, "size": setup.batch_size, "why": setup.axis.why}
    if setup.subsampled:
        axis["subsampled"] = setup.subsampled
    section = CheckupSection(probes=records, seconds=round(time.monotonic() - started, 3), model=type(model).__name__,
                             batch_size=setup.batch_size, batch_axis=axis)
    unchecked = [setup.blocked] if setup.blocked else could_not_check(records)
    return Report(command=command, findings=triage(outcome.findings), sections={"checkup": section}, unchecked=unchecked)


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
