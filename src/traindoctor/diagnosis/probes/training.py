"""Overfit one batch (then ablate the inputs) and the LR range test, on copies.

Both are bounded by step counts only: a time box would make the outcome depend on the machine's
load (a loaded machine cut the LR range short and read its end as divergence)."""

from __future__ import annotations

import math
from typing import Any, Callable, TypedDict

import torch

from ...judge import probes as probe_rules
from ...judge.thresholds import DEEP_FIT, LR_RANGE_DIVERGED, OVERFIT_FLOOR
from ...measure.copies import set_mode
from ...measure.steps import Groupings, grad_norms
from ...vocabulary.finding import Finding
from ..axis import noise
from ..registry import Context, Fitted, probe
from ..setup import NotApplicable, Setup

LR_RANGE = (1e-7, 10.0, 100)  # the LR range test: first and last learning rate, steps


class _Fit(TypedDict):
    passed: bool
    steps: int
    first_loss: float
    final_loss: float
    best_loss: float
    losses: list[float]  # at most about 50, evenly spaced
    attempts: list[dict[str, Any]]  # per learning rate tried: lr, steps, first_loss, final_loss, passed
    optimizer: str
    lr: float


class OverfitRecord(_Fit, total=False):
    stalled_at: int | None  # when it failed: the step from which the loss stopped improving
    grad_norm_by_module_at_stall: dict[str, float]  # per owning module, at the end


class AblationRecord(TypedDict):
    real: float  # the loss on the real inputs, zeroed and random ones
    zeroed: float
    random: float
    first: float  # the loss before overfitting


class LrRangeRecord(TypedDict):
    lrs: list[float]
    losses: list[float]  # smoothed
    suggested_lr: float  # of steepest descent
    min_loss_lr: float
    diverged_at_lr: float | None
    current_lr: float | None


def _grad_by_module(model: torch.nn.Module) -> dict[str, float]:
    """Gradient norms per owning module, as run and the Monitor group them (measure/steps.py)."""
    with_grad, norms = grad_norms(list(model.parameters()))
    grouping = Groupings(lambda: [model]).of(with_grad)
    return grouping.by_module([float(n) for n in norms])


def _fit(setup: Setup, lr_scale: float, steps: int,
         tick: Callable[[int, int, str], None]) -> tuple[torch.nn.Module, torch.optim.Optimizer, list[float]]:
    model = setup.copy_model(train=True)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise NotApplicable("the model has no trainable parameter")
    opt = setup.make_optimizer(params)
    for g in opt.param_groups:
        g["lr"] = g["lr"] * lr_scale
    losses: list[float] = []
    with torch.enable_grad():
        for step in range(steps):
            opt.zero_grad(set_to_none=True)
            loss = setup.step_loss(model)[1]
            loss.backward()
            value = float(loss.detach())
            losses.append(value)
            tick(step + 1, steps, f"overfit one batch (loss {value:.4g})")
            if not math.isfinite(value) or value <= DEEP_FIT * losses[0] or value < OVERFIT_FLOOR * DEEP_FIT:
                break
            opt.step()
    return model, opt, losses


@probe("overfit", order=50,
       about="a fresh copy and optimizer fit the batch; a failure at the configured LR is retried at 10x")
def overfit(setup: Setup, context: Context) -> tuple[list[Finding], OverfitRecord]:
    """Fit one batch on a copy. A failure at the configured LR is retried at 10x before it counts:
    a too-small LR for a 300-step budget must not read as a broken model. A copy that fits is left in
    the context for the ablation probe."""
    steps = context.options.overfit_steps
    attempts = []
    for scale in (1.0, 10.0):
        model, opt, losses = _fit(setup, scale, steps, context.tick)
        attempts.append({"lr": float(opt.param_groups[0]["lr"]), "steps": len(losses), "first_loss": losses[0],
                         "final_loss": losses[-1], "passed": probe_rules.overfit_passed(losses)})
        if attempts[-1]["passed"] or not math.isfinite(losses[-1]):
            break
    passed = attempts[-1]["passed"]
    record = OverfitRecord(passed=passed, steps=len(losses), first_loss=losses[0], final_loss=losses[-1],
                           best_loss=min(losses), losses=losses[:: max(1, len(losses) // 50)], attempts=attempts,
                           optimizer=type(opt).__name__, lr=float(opt.param_groups[0]["lr"]))
    if passed:
        context.fitted = Fitted(model, losses[0])
        return [], record
    record["stalled_at"] = probe_rules.stalled_at(losses)
    record["grad_norm_by_module_at_stall"] = _grad_by_module(model)
    return [probe_rules.cannot_overfit(type(opt).__name__, [a["lr"] for a in attempts], steps, losses, record["stalled_at"],
                                 record["grad_norm_by_module_at_stall"], dict(record))], record


@probe("ablation", order=60,
       about="on the copy that overfit the batch: the loss on real, zeroed and random inputs (labels kept)")
def ablation(setup: Setup, context: Context) -> tuple[list[Finding], AblationRecord]:
    """On the overfit copy: the loss with real inputs vs zeroed and random ones."""
    setup.need_samples(2)  # one sample can be fitted through the biases alone, whatever the inputs
    if context.fitted is None:
        raise NotApplicable("the model did not overfit the batch, so ablation would not be informative")
    model, first = context.fitted.model, context.fitted.first_loss
    gen = torch.Generator().manual_seed(0)

    def randomize(t: torch.Tensor) -> torch.Tensor:
        if t.is_floating_point():
            return noise(torch.randn(t.shape, generator=gen), t) * float(t.float().std()) + float(t.float().mean())
        lo, hi = int(t.min()), int(t.max())
        return noise(torch.randint(lo, hi + 1, t.shape, generator=gen), t)

    set_mode(model, False)
    with torch.no_grad():
        real = float(setup.loss(setup.forward(model)))
        zeroed = float(setup.loss(setup.forward(model, setup.replace_inputs(torch.zeros_like))))
        random = float(setup.loss(setup.forward(model, setup.replace_inputs(randomize))))
    record = AblationRecord(real=real, zeroed=zeroed, random=random, first=first)
    found = probe_rules.input_ignored(first, real, zeroed, random, dict(record))
    return [found] if found else [], record


@probe("lr-range", order=140,
       about="the LR from 1e-7 to 10 exponentially over at most 100 steps on a copy, until the loss diverges")
def lr_range(setup: Setup, context: Context) -> tuple[list[Finding], LrRangeRecord]:
    """Exponentially increasing LR on a copy; stops when the loss diverges; suggests an LR."""
    start, end, steps = LR_RANGE
    model = setup.copy_model(train=True)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise NotApplicable("the model has no trainable parameter")
    opt = setup.make_optimizer(params)
    factor = (end / start) ** (1 / (steps - 1))
    lrs, losses, smooth = [], [], None
    with torch.enable_grad():
        for i in range(steps):
            lr = start * factor**i
            for g in opt.param_groups:
                g["lr"] = lr
            opt.zero_grad(set_to_none=True)
            loss = setup.step_loss(model)[1]
            value = float(loss.detach())
            if not math.isfinite(value):
                break
            smooth = value if smooth is None else 0.7 * smooth + 0.3 * value
            lrs.append(lr)
            losses.append(smooth)
            if smooth > LR_RANGE_DIVERGED * min(losses):
                break
            loss.backward()
            opt.step()
    if len(losses) < 5:
        raise NotApplicable("the loss diverged within the first few learning rates")
    best = min(range(len(losses)), key=losses.__getitem__)
    slopes = [(losses[i + 1] - losses[i]) for i in range(best)]
    steepest = min(range(len(slopes)), key=slopes.__getitem__) if slopes else best
    suggested = lrs[steepest]
    diverged_at = lrs[-1] if len(lrs) < steps else None
    record = LrRangeRecord(lrs=lrs, losses=losses, suggested_lr=suggested, min_loss_lr=lrs[best],
                           diverged_at_lr=diverged_at, current_lr=context.current_lr)
    found = probe_rules.lr_beyond_divergence(context.current_lr, diverged_at, suggested,
                                       {k: v for k, v in record.items() if k not in ("lrs", "losses")})
    return [found] if found else [], record

