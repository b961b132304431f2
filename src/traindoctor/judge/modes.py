"""Train/eval mode of dropout and batch-norm layers during training and evaluation."""

from __future__ import annotations

import math
from statistics import median

from torch import nn

from ..vocabulary.finding import Finding, finding
from ..measure.nograd_calls import NoGradCalls
from ..measure.recorder import Recorder, RootInfo
from .numerics import why_not_learning
from .thresholds import BATCH_NORM_STATS_FACTOR, MIN_STEPS, MOST_STEPS


def check(rec: Recorder) -> list[Finding]:
    out = []
    for info in rec.roots.values():
        model = type(info.module).__name__
        mods = dict(info.mode_modules)
        bn = [n for n in info.eval_in_train_modules if isinstance(mods[n], nn.modules.batchnorm._BatchNorm)]
        evaluations = info.eval_in_train - _in_training_step(info, dropout_only=not bn)
        if evaluations:
            kinds = sorted({type(mods[n]).__name__ for n in info.eval_in_train_modules})
            harm = ("batch-norm running statistics were updated from these batches" if bn
                    else "dropout was active, so the evaluated outputs are randomly thinned")
            out.append(finding(
                "eval-in-train-mode",
                f"{evaluations} of {info.nograd_calls} forward passes of `{model}` under no_grad/inference_mode ran with "
                f"{len(info.eval_in_train_modules)} {'/'.join(kinds)} layers in training mode (e.g. `{info.eval_in_train_modules[0]}`); {harm}",
                rec.source, severity="error" if bn else "warning",
                evidence={"calls": evaluations, "nograd_calls": info.nograd_calls,
                          "in_training_step": info.eval_in_train - evaluations, "modules": info.eval_in_train_modules[:20]},
                location={**_evaluation_location(info.nograd_train), "module": model},
            ))
        if info.grad_calls >= MIN_STEPS and info.train_in_eval >= MOST_STEPS * info.grad_calls:
            out += _train_in_eval(rec, info, model)
    return out


def _train_in_eval(rec: Recorder, info: RootInfo, model: str) -> list[Finding]:
    """Training in eval mode: dropout off (regularization off: a warning), batch norm normalizing by its running
    statistics. Those are harmful only when they do not describe the batches (never fitted while the data is not
    standardized, or fitted on other data): then an error when the run does not learn, its root cause. When they
    describe them, the batch norm is frozen (fine-tuning with small batches): dropout left off is told, else an info."""
    nb = info.norm_batches
    scales = {n: median(v) for n, v in nb.eval_scales.items()} if nb else {}
    off = {n: s for n, s in scales.items() if abs(math.log(s)) > math.log(BATCH_NORM_STATS_FACTOR)}
    dropout = [(n, m) for n, m in info.mode_modules if not isinstance(m, nn.modules.batchnorm._BatchNorm)]
    frozen = bool(scales) and not off  # batch norm frozen on purpose (fine-tuning with small batches)
    layers = dropout if frozen and dropout else info.mode_modules
    kinds = "/".join(sorted({type(m).__name__ for _, m in layers}))
    said = (f"{info.train_in_eval} of {info.grad_calls} training forward passes of `{model}` ran with every "
            f"{kinds} layer in eval mode")
    evidence = {"calls": info.train_in_eval, "grad_calls": info.grad_calls}
    severity = "info" if frozen and not dropout else "warning"
    if off:
        first = next(iter(off))  # in the order the layers ran: the later ones get what it put out
        origin = "never fitted: mean 0 / variance 1" if nb.never_fitted.get(first) else "fitted, not to these batches"
        stuck = why_not_learning(rec)
        said += (f"; their running statistics do not describe the batches: `{first}` ({origin}) scaled its "
                 f"outputs to {off[first]:.3g}x their normalized scale" + (f"; {stuck}" if stuck else ""))
        evidence |= {"never_fitted": [n for n in off if nb.never_fitted.get(n)], "not_learning": stuck}
        severity = "error" if stuck else "warning"
    elif frozen:
        fresh = all(nb.never_fitted.get(n) for n in scales)
        said += (f"; the running statistics of its batch norm describe the batches (outputs within "
                 f"{BATCH_NORM_STATS_FACTOR:g}x of their normalized scale{', though never fitted' if fresh else ''})")
    if scales:
        evidence["output_scale"] = {n: float(f"{s:.3g}") for n, s in scales.items()}
    return [finding("train-in-eval-mode", said, rec.source, severity=severity, evidence=evidence,
                    location={**info.train_location, "module": model})]


def _in_training_step(info: RootInfo, dropout_only: bool) -> int:
    """The no-grad calls in training mode that belong to a training step, not to an evaluation: a backward
    followed each before the next optimizer step, and it ran inside the step's forward (after a training
    call, before its backward: a target or pseudo-labels for this loss), or in a step that did not train the
    model, as in most steps (a target network, an EMA or frozen teacher, whose outputs serve the loss). A
    trained model's own pass between a step and its next forward is a validation pass, however often it
    runs, unless its outputs were followed into the loss (double-DQN's next actions, pseudo-labels); an
    untrained model's pass at a few steps only is a periodic evaluation — unless the model is a noisy teacher:
    never trained itself, its passes with dropout serve the loss at most steps (a mean teacher's), so dropout is
    the script's design for that model, and its other passes share it. Batch norm is not let off so: an
    evaluation pass overwrites its running statistics and normalizes by the evaluated batch (a BYOL target
    evaluated in training mode)."""
    calls = info.nograd_train
    untrained = calls.untrained if calls.untrained_steps >= MOST_STEPS * calls.backwards else 0
    served = calls.in_forward + untrained
    if dropout_only and not info.grad_calls and calls.backwards >= MIN_STEPS and served >= MOST_STEPS * calls.backwards:
        return info.eval_in_train
    return calls.in_forward + untrained + calls.fed()


def _evaluation_location(calls: NoGradCalls) -> dict:
    """Where an evaluation ran: one known as such, else the last calls (nothing followed them), else the
    untrained model's passes, at too few steps to belong to them."""
    return calls.eval_location or calls.unfed_location() or calls.pending_location or calls.untrained_location
