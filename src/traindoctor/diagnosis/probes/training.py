"""Overfit one batch (then ablate the inputs) and the LR range test, on copies.

Both are bounded by step counts only: a time box would make the outcome depend on the machine's
load (a loaded machine cut the LR range short and read its end as divergence)."""

from __future__ import annotations

import math
from typing import Any, Callable

import torch

from ...vocabulary.finding import Finding, finding
from ...measure.stats import fmt
from ..axis import noise
from ..setup import NotApplicable, Setup

OVERFIT_TARGET = 0.2  # pass: the loss falls to 20% of its first value (or below 0.05)
OVERFIT_FLOOR = 0.05
DEEP_FIT = 0.05  # keep training to 5% of the first loss, so the ablation sees a memorized batch
STALL = 0.01  # "stalled": the best loss improved by less than 1% over the last `window` steps
IGNORED = 0.1  # destroying the input undoes less than 10% of what fitting the batch achieved


def _grad_by_module(model: torch.nn.Module) -> dict[str, float]:
    sq: dict[str, float] = {}
    for name, p in model.named_parameters():
        if p.grad is not None:
            top = name.split(".")[0]
            sq[top] = sq.get(top, 0.0) + float(p.grad.norm()) ** 2
    return {k: math.sqrt(v) for k, v in sq.items()}


def _fit(setup: Setup, lr_scale: float, steps: int,
         progress: Callable[[int, float], None] | None) -> tuple[torch.nn.Module, torch.optim.Optimizer, list[float]]:
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
            if progress:
                progress(step, value)
            if not math.isfinite(value) or value <= DEEP_FIT * losses[0] or value < OVERFIT_FLOOR * DEEP_FIT:
                break
            opt.step()
    return model, opt, losses


def _passed(losses: list[float]) -> bool:
    return math.isfinite(losses[-1]) and (losses[-1] <= OVERFIT_TARGET * losses[0] or losses[-1] < OVERFIT_FLOOR)


def overfit(setup: Setup, steps: int = 300,
            progress: Callable[[int, float], None] | None = None) -> tuple[list[Finding], dict[str, Any]]:
    """Fit one batch on a copy. A failure at the configured LR is retried at 10x before it counts:
    a too-small LR for a 300-step budget must not read as a broken model."""
    attempts = []
    for scale in (1.0, 10.0):
        model, opt, losses = _fit(setup, scale, steps, progress)
        attempts.append({"lr": float(opt.param_groups[0]["lr"]), "steps": len(losses), "first_loss": losses[0],
                         "final_loss": losses[-1], "passed": _passed(losses)})
        if attempts[-1]["passed"] or not math.isfinite(losses[-1]):
            break
    first, last, best = losses[0], losses[-1], min(losses)
    passed = attempts[-1]["passed"]
    record: dict[str, Any] = {"passed": passed, "steps": len(losses), "first_loss": first, "final_loss": last,
                              "best_loss": best, "losses": losses[:: max(1, len(losses) // 50)], "attempts": attempts,
                              "optimizer": type(opt).__name__, "lr": float(opt.param_groups[0]["lr"])}
    if passed:
        record["model"] = model  # the overfit copy is reused by the ablation probe
        return [], record
    window = max(10, len(losses) // 5)
    stall = next((i for i in range(len(losses) - window) if min(losses[i:i + window]) > losses[i] * (1 - STALL)), None)
    record["stalled_at"] = stall
    record["grad_norm_by_module_at_stall"] = _grad_by_module(model)
    where = f"; it stalled from step {stall} on" if stall is not None else ""
    tried = " and ".join(f"lr {fmt(a['lr'])}" for a in attempts)
    return [finding(
        "cannot-overfit-batch",
        f"{type(opt).__name__} on one batch ({tried}, up to {steps} steps each) took the loss from {fmt(first)} to "
        f"{fmt(last)} (best {fmt(best)}); a working model reaches below {fmt(OVERFIT_TARGET * first)}{where}; "
        "gradient norms at the end: " + ", ".join(f"{k} {fmt(v)}" for k, v in record["grad_norm_by_module_at_stall"].items()),
        "checkup", evidence={k: v for k, v in record.items() if k != "model"},
    )], record


def ablation(setup: Setup, overfit_record: dict[str, Any]) -> tuple[list[Finding], dict[str, Any]]:
    """On the overfit copy: the loss with real inputs vs zeroed and random ones."""
    setup.need_samples(2)  # one sample can be fitted through the biases alone, whatever the inputs
    model = overfit_record.get("model")
    if model is None:
        raise NotApplicable("the model did not overfit the batch, so ablation would not be informative")
    gen = torch.Generator().manual_seed(0)

    def randomize(t: torch.Tensor) -> torch.Tensor:
        if t.is_floating_point():
            return noise(torch.randn(t.shape, generator=gen), t) * float(t.float().std()) + float(t.float().mean())
        lo, hi = int(t.min()), int(t.max())
        return noise(torch.randint(lo, hi + 1, t.shape, generator=gen), t)

    model.eval()
    with torch.no_grad():
        real = float(setup.loss(setup.forward(model)))
        zeroed = float(setup.loss(setup.forward(model, setup.replace_inputs(torch.zeros_like))))
        random = float(setup.loss(setup.forward(model, setup.replace_inputs(randomize))))
    record = {"real": real, "zeroed": zeroed, "random": random, "first": overfit_record["first_loss"]}
    learned = overfit_record["first_loss"] - real
    if learned > 0 and max(zeroed, random) - real < IGNORED * learned:
        return [finding("input-ignored", f"after overfitting, the loss is {fmt(real)} on the real inputs, {fmt(zeroed)} on "
                        f"zeroed and {fmt(random)} on random inputs (it started at {fmt(record['first'])}): destroying the inputs undoes "
                        f"less than {IGNORED:.0%} of what fitting the batch achieved", "checkup", evidence=record)], record
    return [], record


def lr_range(setup: Setup, start: float = 1e-7, end: float = 10.0, steps: int = 100,
             current_lr: float | None = None) -> tuple[list[Finding], dict[str, Any]]:
    """Exponentially increasing LR on a copy; stops when the loss diverges; suggests an LR."""
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
            if smooth > 4 * min(losses):
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
    record: dict[str, Any] = {"lrs": lrs, "losses": losses, "suggested_lr": suggested, "min_loss_lr": lrs[best],
                              "diverged_at_lr": diverged_at, "current_lr": current_lr}
    if current_lr and diverged_at and current_lr >= diverged_at:
        return [finding("lr-too-high", f"in an LR range test on a copy the loss diverged at lr {fmt(diverged_at)}; "
                        f"the configured lr is {fmt(current_lr)} (suggested: {fmt(suggested)})", "checkup",
                        severity="warning", evidence={k: v for k, v in record.items() if k not in ("lrs", "losses")})], record
    return [], record

