"""`traindoctor.checkup`: the active-probe battery, run on copies of the user's model.

(The module is not named checkup.py so that `traindoctor.checkup` stays the function.)"""

from __future__ import annotations

import sys
import time
from contextlib import nullcontext
from typing import Any, Callable

import torch
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from .findings import Finding, Report, triage
from .probes import activations, batch_mixing, gradients, outputs, training
from .probes import batch as batch_probes
from .probes.causal import causal as causal_independence
from .probes.setup import NotApplicable, Setup, SetupError
from .record.stats import preserved_rng

__all__ = ["checkup", "SetupError", "PROBES", "CHEAP_PROBES"]

PROBES = ("batch", "init-loss", "constant-output", "gradient-flow", "overfit", "ablation", "batch-independence",
          "causal-independence", "odd-batch", "eval-determinism", "activations", "update-ratio", "gradcheck", "lr-range")
# The probes `run` repeats on the model and batch it captured: one or two forward passes each.
CHEAP_PROBES = ("batch-independence", "causal-independence", "odd-batch", "eval-determinism", "activations")


def _fingerprint(model: torch.nn.Module) -> list[torch.Tensor]:
    return [t.detach().clone() for t in model.state_dict().values() if isinstance(t, torch.Tensor)]


def checkup(model: torch.nn.Module, batch: Any, loss_fn: Any = None, optimizer: Any = None, *,
            probes: tuple[str, ...] | None = None, overfit_steps: int = 300, probe_seconds: float = 15.0,
            causal: bool | None = None, dead_relu_threshold: float = activations.DEAD, progress: bool | None = None,
            command: str = "checkup") -> Report:
    """Ask the model the playbook's questions, each on a copy; return the ordered findings.

    `batch` is `(inputs, targets)` (inputs: a tensor, a tuple of tensors, or a dict of keyword
    arguments) or a dict of keyword arguments for a model that computes its own loss.
    `loss_fn(output, targets) -> loss`; `optimizer` is an instance (its class and settings are
    reused on copies) or a factory `params -> optimizer` (default AdamW, lr 3e-4).
    Nothing of the caller's is modified: model, optimizer, batch and RNG state are left as they were.
    """
    setup = Setup.build(model, batch, loss_fn, optimizer)
    selected = PROBES if probes is None else tuple(probes)
    unknown = set(selected) - set(PROBES)
    if unknown:
        raise SetupError(f"unknown probe(s) {sorted(unknown)}; choose from {', '.join(PROBES)}")
    current_lr = float(optimizer.param_groups[0]["lr"]) if isinstance(optimizer, torch.optim.Optimizer) else None
    show = sys.stderr.isatty() if progress is None else progress
    bar = Progress(TextColumn("[bold]checkup[/] {task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                   TimeElapsedColumn(), console=Console(stderr=True), transient=True) if show else None
    found: list[Finding] = []
    records: list[dict[str, Any]] = []
    overfit_record: dict[str, Any] = {}
    started = time.monotonic()
    with preserved_rng(), (bar or nullcontext()):
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
                "overfit": lambda: training.overfit(setup, overfit_steps, probe_seconds, tick),
                "ablation": lambda: training.ablation(setup, overfit_record),
                "batch-independence": lambda: _batch_mixing(setup),
                "causal-independence": lambda: causal_independence(setup, causal),
                "odd-batch": lambda: batch_probes.odd_batch(setup),
                "eval-determinism": lambda: outputs.eval_determinism(setup),
                "activations": lambda: activations.activations(setup, dead_relu_threshold),
                "update-ratio": lambda: gradients.update_ratio(setup),
                "gradcheck": lambda: gradients.gradcheck_functions(setup),
                "lr-range": lambda: training.lr_range(setup, seconds=probe_seconds, current_lr=current_lr),
            }[name]
            t0 = time.monotonic()
            try:
                with preserved_rng():
                    new, record = runner()
                status = "ran"
            except NotApplicable as exc:
                new, record, status = [], {"note": str(exc)}, "skipped"
            except SetupError as exc:  # e.g. no loss for a probe that needs one
                new, record, status = [], {"note": str(exc)}, "skipped"
            except Exception as exc:  # a probe that breaks must not stop the battery
                new, record, status = [], {"note": f"probe failed: {type(exc).__name__}: {str(exc)[:300]}"}, "failed"
            if tick_task is not None:
                bar.remove_task(tick_task)
            if name == "overfit":
                overfit_record = record
                record = {k: v for k, v in record.items() if k != "model"}
            records.append({"name": name, "status": status, "seconds": round(time.monotonic() - t0, 3), **record})
            found += new
            if bar:
                bar.advance(task)
    section = {"probes": records, "seconds": round(time.monotonic() - started, 3), "model": type(model).__name__,
               "batch_size": setup.batch_size}
    return Report(command=command, findings=triage(found), sections={"checkup": section})



def _batch_mixing(setup: Setup) -> tuple[list[Finding], dict[str, Any]]:
    args, kwargs = ((), setup.inputs) if isinstance(setup.inputs, dict) else (
        (tuple(setup.inputs) if isinstance(setup.inputs, (tuple, list)) else (setup.inputs,)), {})
    f, record = batch_mixing.probe(setup.model, args, kwargs, source="checkup")
    if record["status"] == "skipped":
        raise NotApplicable(record["note"])
    return ([f] if f else []), {k: v for k, v in record.items() if k not in ("name", "status", "seconds")}


def _ticker(bar: Progress, task: Any) -> Callable[[int, float], None]:
    def tick(step: int, loss: float) -> None:
        bar.update(task, completed=step + 1, description=f"overfit one batch (loss {loss:.4g})")
    return tick
