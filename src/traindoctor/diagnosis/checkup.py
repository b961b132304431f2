"""`traindoctor.checkup`: the active-probe battery, run on copies of the user's model.

(The module is not named checkup.py so that `traindoctor.checkup` stays the function.)"""

from __future__ import annotations

import sys
import time
from contextlib import nullcontext
from typing import Any, Callable

import torch

from ..vocabulary.finding import Finding
from ..vocabulary.report import Report
from ..vocabulary.triage import triage
from .probes import activations, batch_mixing, gradients, outputs, training
from .probes import batch as batch_probes
from .probes.causal import causal as causal_independence
from ..measure.recorder import internal_calls
from .guard import guarded
from .sandbox import isolated, same_noise
from .setup import NotApplicable, Setup, SetupError

__all__ = ["checkup", "SetupError", "PROBES", "CHEAP_PROBES"]

PROBES = ("batch", "init-loss", "constant-output", "gradient-flow", "overfit", "ablation", "batch-independence",
          "causal-independence", "odd-batch", "eval-determinism", "activations", "update-ratio", "gradcheck", "lr-range")
# The probes `run` repeats on the model and batch it captured: one or two forward passes each.
CHEAP_PROBES = ("batch-independence", "causal-independence", "odd-batch", "eval-determinism", "activations")
# Probes that look only at the batch: they run even when the model cannot be probed.
BATCH_ONLY = ("batch",)
PROBE_SEED = 0


def checkup(model: torch.nn.Module, batch: Any, loss_fn: Any = None, optimizer: Any = None, *,
            probes: tuple[str, ...] | None = None, overfit_steps: int = 300, causal: bool | None = None,
            dead_relu_threshold: float = activations.DEAD, progress: bool | None = None,
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
    unknown = set(selected) - set(PROBES)
    if unknown:
        raise SetupError(f"unknown probe(s) {sorted(unknown)}; choose from {', '.join(PROBES)}")
    current_lr = float(optimizer.param_groups[0]["lr"]) if isinstance(optimizer, torch.optim.Optimizer) else None
    show = sys.stderr.isatty() if progress is None else progress
    records: list[dict[str, Any]] = []
    found: list[Finding] = []
    overfit_record: dict[str, Any] = {}
    started = time.monotonic()
    with isolated(), internal_calls():  # calls from here have no user location; the user's RNG streams restored, their warnings not printed again by forwards on copies
        setup = Setup.build(model, batch, loss_fn, optimizer)
        bar = _progress_bar() if show else None
        with guarded(model, allowed=loss_fn), (bar or nullcontext()):  # a probe about to touch the original stops
            task = bar.add_task("", total=len(selected)) if bar else None
            for name in selected:
                if bar:
                    bar.update(task, description=name)
                tick_task = bar.add_task("overfit one batch", total=overfit_steps) if bar and name == "overfit" else None
                tick = _ticker(bar, tick_task) if tick_task is not None else None
                runner: Callable[[], tuple[list[Finding], dict[str, Any]]] = {
                    "batch": lambda: batch_probes.batch_sanity(setup),
                    "init-loss": lambda: outputs.init_loss(setup),
                    "constant-output": lambda: outputs.constant_output(setup),
                    "gradient-flow": lambda: gradients.gradient_flow(setup),
                    "overfit": lambda: training.overfit(setup, overfit_steps, tick),
                    "ablation": lambda: training.ablation(setup, overfit_record),
                    "batch-independence": lambda: batch_mixing.independence(setup),
                    "causal-independence": lambda: causal_independence(setup, causal),
                    "odd-batch": lambda: batch_probes.odd_batch(setup),
                    "eval-determinism": lambda: outputs.eval_determinism(setup),
                    "activations": lambda: activations.activations(setup, dead_relu_threshold),
                    "update-ratio": lambda: gradients.update_ratio(setup),
                    "gradcheck": lambda: gradients.gradcheck_functions(setup),
                    "lr-range": lambda: training.lr_range(setup, current_lr=current_lr),
                }[name]
                new, record, status, seconds = _run_probe(name, runner, setup)
                if tick_task is not None:
                    bar.remove_task(tick_task)
                if name == "overfit":
                    overfit_record = record
                    record = {k: v for k, v in record.items() if k != "model"}
                if setup.subsampled:
                    record["samples"] = setup.subsampled
                records.append({"name": name, "status": status, "seconds": seconds, **record})
                found += new
                if bar:
                    bar.advance(task)
    axis = {"axis": setup.axis.axis, "size": setup.batch_size, "why": setup.axis.why}
    if setup.subsampled:
        axis["subsampled"] = setup.subsampled
    section = {"probes": records, "seconds": round(time.monotonic() - started, 3), "model": type(model).__name__,
               "batch_size": setup.batch_size, "batch_axis": axis}
    unchecked = [setup.blocked] if setup.blocked else could_not_check(records)
    return Report(command=command, findings=triage(found), sections={"checkup": section}, unchecked=unchecked)


def _run_probe(name: str, runner: Callable, setup: Setup) -> tuple[list[Finding], dict[str, Any], str, float]:
    t0 = time.monotonic()  # reported as information; no probe decides anything by time
    if setup.blocked and name not in BATCH_ONLY:
        new, record, status = [], {"note": setup.blocked}, "failed"
    else:
        try:
            with same_noise(PROBE_SEED):  # each probe draws the same, whatever the caller's RNG state
                new, record = runner()
            status = "ran"
        except (NotApplicable, SetupError) as exc:  # does not apply, or e.g. no loss for a probe that needs one
            new, record, status = [], {"note": str(exc)}, "skipped"
        except Exception as exc:  # a probe that breaks must not stop the battery
            new, record, status = [], {"note": f"probe failed: {type(exc).__name__}: {str(exc)[:300]}"}, "failed"
    return new, record, status, round(time.monotonic() - t0, 3)


def could_not_check(records: list[dict[str, Any]]) -> list[str]:
    """Why the battery could not look: at least as many applicable probes failed as ran, or none applied.
    (Skipped probes do not apply to this model; they neither count for nor against.)"""
    ran = [r["name"] for r in records if r["status"] == "ran"]
    failed = [r for r in records if r["status"] == "failed"]
    if records and not ran and not failed:
        return [f"none of the {len(records)} probes applied: " + _grouped(records)]
    if not failed or len(failed) < len(ran):
        return []
    who = f"only {', '.join(ran)} ran" if ran else "none ran"
    return [f"{len(failed)} of {len(failed) + len(ran)} applicable probes failed ({who}): " + _grouped(failed)]


def _grouped(records: list[dict[str, Any]]) -> str:
    """`a, b: reason; c: other reason`, each reason once."""
    by_note: dict[str, list[str]] = {}
    for r in records:
        by_note.setdefault(r.get("note", "").removeprefix("probe failed: "), []).append(r["name"])
    return "; ".join(f"{', '.join(names)}: {note}" for note, names in by_note.items())


def _progress_bar() -> Any:
    # imported here, under isolated(): rich draws from `random` when it is first imported
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("[bold]checkup[/] {task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                    TimeElapsedColumn(), console=Console(stderr=True), transient=True)


def _ticker(bar: Any, task: Any) -> Callable[[int, float], None]:
    def tick(step: int, loss: float) -> None:
        bar.update(task, completed=step + 1, description=f"overfit one batch (loss {loss:.4g})")
    return tick
