"""The stuck-metric probe: `traindoctor.why_stuck`'s measurements (diagnosis/stuck.py) and verdict (judge/stuck.py)
for the setup's `metric_fn`, with checkup's batch, loss and optimizer, on copies of the model.

A structural ceiling at the configured learning rate is measured again at 10x before it counts, as the overfit
probe retries: checkup's default rate (3e-4) moves a linear model's accuracy too little in STEPS steps, and
too slow an optimizer must not read as a model that cannot reach the metric."""

from __future__ import annotations

from typing import Any, Callable, TypedDict

import torch

from ...vocabulary.finding import Finding
from ..registry import Context, probe
from ..setup import NotApplicable, Setup
from ..stuck import why_stuck

STEPS = 50  # training steps of each copy: the probe is bounded by steps, not time
LR_SCALES = (1.0, 10.0)  # the configured learning rate, then 10x when the first verdict is a ceiling


class StuckMetricRecord(TypedDict):
    """What why_stuck measured (the report's `why_stuck` section, see docs/stuck.md)."""
    metric: float
    loss: float
    higher_is_better: bool
    loss_grad_norm: float
    outputs: list[dict[str, float]]  # the outputs moved along the loss's descent: predicted_fall, loss, metric
    parameters: list[dict[str, float]]  # steps along the loss gradient in parameter space: step, loss, metric
    trained: dict[str, float]  # the metric after STEPS steps of a copy on the batch
    steps: int
    attempts: list[dict[str, Any]]  # per learning-rate scale: lr_scale, verdict (the record is the last's)


@probe("stuck-metric", order=65,
       about="for the setup's metric_fn: does lowering the loss move the metric, can the parameters move it, does "
             "training a copy move it (why_stuck's decision table)")
def stuck_metric(setup: Setup, context: Context) -> tuple[list[Finding], StuckMetricRecord]:
    metric_fn = context.options.metric_fn
    if metric_fn is None:
        raise NotApplicable("no metric_fn given: add metric_fn=(output, targets) -> number to the setup to ask why it "
                            "would not move")
    if setup.loss_fn is None:
        raise NotApplicable("the model computes its own loss: the metric needs loss_fn=(output, targets) -> loss")
    with torch.no_grad():
        out = setup.forward(setup.copy_model(train=False), seed=0)
    if not isinstance(out, torch.Tensor) or not out.is_floating_point():
        raise NotApplicable("the model's output is not one floating-point tensor (wrap the model to return the head "
                            "the metric reads)")
    attempts = []
    for scale in LR_SCALES:
        report = why_stuck(setup.model, (setup.inputs, setup.targets), metric_fn, setup.loss,
                           optimizer=_scaled(setup.make_optimizer, scale), steps=STEPS,
                           higher_is_better=context.options.higher_is_better)
        attempts.append({"lr_scale": scale, "verdict": [f.code for f in report.findings]})
        if attempts[-1]["verdict"] != ["metric-structural-ceiling"]:
            break
    measured: dict[str, Any] = dict(report.sections["why_stuck"])
    measured.pop("terms", None)  # one loss: checkup's
    return list(report.findings), StuckMetricRecord(**measured, attempts=attempts)


def _scaled(make_optimizer: Callable[[list], torch.optim.Optimizer], scale: float) -> Callable[[list], torch.optim.Optimizer]:
    def make(params: list) -> torch.optim.Optimizer:
        opt = make_optimizer(params)
        for group in opt.param_groups:
            group["lr"] = group["lr"] * scale
        return opt
    return make
