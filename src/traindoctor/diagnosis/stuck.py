"""`traindoctor.why_stuck`: why won't this metric move? Three measurements on copies of the model, on one
batch, judged by the seeds' decision table (judge/stuck.py):

- d(loss)/d(metric) at the operating point, by finite differences on the outputs: the outputs moved along the
  loss's own descent direction, in steps sized to lower the loss by 1%, 3%, 10%, 30% and 100% to first order;
  the loss and the metric at each (does lowering the loss move the metric?);
- d(metric)/d(parameters), by finite differences along the loss gradient in parameter space: steps of 0.1%,
  1% and 10% of the parameters' norm (can the parameters move the metric?);
- the metric after `steps` training steps of a copy on the batch with every loss term, and with each term
  disabled in turn (is something fighting it, or does it move after all?).

Nothing of the caller's is modified; the random streams are restored; the work is bounded by steps.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import nn

from ..judge import stuck as rules
from ..measure.copies import independent_copy, set_mode
from ..vocabulary.report import Report
from ..vocabulary.triage import triage
from .sandbox import isolated, same_noise
from .tree import call

LOSS_FALLS = (0.01, 0.03, 0.1, 0.3, 1.0)  # first-order falls of the loss (fractions) the output steps are sized for
PARAM_STEPS = (1e-3, 1e-2, 1e-1)  # parameter steps, as fractions of the parameters' norm

Terms = dict[str, Callable[[Any, Any], torch.Tensor]]


def why_stuck(model: nn.Module, batch: Any, metric_fn: Callable[[Any, Any], Any], loss_fn: Callable | None = None, *,
              loss_terms: Terms | None = None, optimizer: Callable | torch.optim.Optimizer | None = None, steps: int = 20,
              higher_is_better: bool = True) -> Report:
    """Why does `metric_fn(outputs, targets)` not move? `batch` is `(inputs, targets)`; the loss is `loss_fn(outputs,
    targets)` or the sum of `loss_terms` ({name: fn(outputs, targets)}), whose terms are each disabled in turn.
    `optimizer`: an instance (its class and settings are reused on copies) or a factory `params -> optimizer`
    (default Adam, lr 1e-3). Returns a Report with one verdict, its observation, hypotheses and falsifiers."""
    terms = dict(loss_terms) if loss_terms else ({"loss": loss_fn} if loss_fn is not None else {})
    if not terms:
        raise ValueError("why_stuck needs the loss: pass loss_fn=... or loss_terms={name: fn(outputs, targets)}")
    inputs, targets = batch
    with isolated():
        m = _measure(model, inputs, targets, metric_fn, terms, _factory(optimizer), steps)
    m["higher_is_better"] = higher_is_better
    return Report(command="why_stuck", findings=triage(rules.verdict(m)), sections={"why_stuck": m})


def _measure(model: nn.Module, inputs: Any, targets: Any, metric_fn: Callable, terms: Terms,
             make_opt: Callable, steps: int) -> dict[str, Any]:
    replica = set_mode(independent_copy(model), False)
    with torch.no_grad(), same_noise(0):
        out = call(replica, inputs)
    metric = _metric(metric_fn, out, targets)
    loss = _loss(terms, out, targets)
    return {"metric": metric, "loss": float(loss), "terms": list(terms), "steps": steps,
            **_along_outputs(out, targets, metric_fn, terms),
            "parameters": _along_parameters(replica, inputs, targets, metric_fn, terms),
            "trained": {"all": _trained(model, inputs, targets, metric_fn, terms, make_opt, steps),
                        **({k: _trained(model, inputs, targets, metric_fn, {n: f for n, f in terms.items() if n != k},
                                        make_opt, steps) for k in terms} if len(terms) > 1 else {})}}


def _along_outputs(out: Any, targets: Any, metric_fn: Callable, terms: Terms) -> dict[str, Any]:
    """The loss and the metric with the outputs moved along -d(loss)/d(outputs), per LOSS_FALLS."""
    if not isinstance(out, torch.Tensor) or not out.is_floating_point():
        raise ValueError("why_stuck needs the model's output to be one floating tensor")
    o = out.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        loss = _loss(terms, o, targets)
        grad, = torch.autograd.grad(loss, o, allow_unused=True)
    if grad is None:
        grad = torch.zeros_like(o)
    square = float(grad.double().pow(2).sum())
    rows = []
    for fall in LOSS_FALLS if square > 0 else ():
        moved = (o - fall * abs(float(loss)) / square * grad).detach()
        with torch.no_grad():
            rows.append({"predicted_fall": fall, "loss": float(_loss(terms, moved, targets)),
                         "metric": _metric(metric_fn, moved, targets)})
    return {"loss_grad_norm": square ** 0.5, "outputs": rows}


def _along_parameters(replica: nn.Module, inputs: Any, targets: Any, metric_fn: Callable, terms: Terms) -> list[dict]:
    """The loss and the metric after steps along -d(loss)/d(parameters), per PARAM_STEPS of the parameters' norm."""
    params = [p for p in replica.parameters() if p.requires_grad]
    with torch.enable_grad(), same_noise(0):
        loss = _loss(terms, call(replica, inputs), targets)
        grads = torch.autograd.grad(loss, params, allow_unused=True)
    grads = [g if g is not None else torch.zeros_like(p) for g, p in zip(grads, params)]
    gnorm = sum(float(g.double().pow(2).sum()) for g in grads) ** 0.5
    pnorm = sum(float(p.detach().double().pow(2).sum()) for p in params) ** 0.5
    start = [p.detach().clone() for p in params]
    rows = []
    for size in PARAM_STEPS if gnorm > 0 else ():
        with torch.no_grad():
            for p, s, g in zip(params, start, grads):
                p.copy_(s - size * max(pnorm, 1.0) / gnorm * g)
            out = call(replica, inputs, seed=0)
            rows.append({"step": size, "loss": float(_loss(terms, out, targets)), "metric": _metric(metric_fn, out, targets)})
    with torch.no_grad():
        for p, s in zip(params, start):
            p.copy_(s)
    return rows


def _trained(model: nn.Module, inputs: Any, targets: Any, metric_fn: Callable, terms: Terms, make_opt: Callable,
             steps: int) -> float:
    """The metric (in eval mode) after `steps` steps of a fresh copy on the batch with `terms` only."""
    replica = set_mode(independent_copy(model), True)
    opt = make_opt([p for p in replica.parameters() if p.requires_grad])
    for step in range(steps):
        opt.zero_grad(set_to_none=True)
        with torch.enable_grad():
            _loss(terms, call(replica, inputs, seed=step), targets).backward()
        opt.step()
    set_mode(replica, False)
    with torch.no_grad():
        return _metric(metric_fn, call(replica, inputs, seed=0), targets)


def _loss(terms: Terms, out: Any, targets: Any) -> torch.Tensor:
    values = [fn(out, targets) for fn in terms.values()]
    return sum(values[1:], values[0])


def _metric(metric_fn: Callable, out: Any, targets: Any) -> float:
    value = metric_fn(out, targets)
    return float(value.detach()) if isinstance(value, torch.Tensor) else float(value)


def _factory(optimizer: Callable | torch.optim.Optimizer | None) -> Callable:
    if optimizer is None:
        return lambda params: torch.optim.Adam(params, lr=1e-3)
    if isinstance(optimizer, torch.optim.Optimizer):
        settings = {k: v for k, v in optimizer.defaults.items() if k not in ("params",)}
        return lambda params: type(optimizer)(params, **settings)
    return optimizer
