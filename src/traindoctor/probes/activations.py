"""Dead ReLU units and saturated sigmoid/tanh units, per layer, from one forward pass on a copy."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..findings import Finding, finding
from .setup import NotApplicable, Setup

# A layer with half its units never active on the batch: SageMaker Debugger's DeadRelu default
# (threshold_layer=50%). It fits a model at initialization; a trained model legitimately leaves
# many units unused on an easy task, so `run` (which probes after training) passes 0.9.
DEAD = 0.5
SATURATED = 0.5  # half the outputs pinned within 1% of the bounds
_RELU = (nn.ReLU, nn.ReLU6)
_SQUASH = (nn.Sigmoid, nn.Tanh)


def activations(setup: Setup, dead_threshold: float = DEAD) -> tuple[list[Finding], dict[str, Any]]:
    model = setup.copy_model(train=True)
    layers = {m: n for n, m in model.named_modules() if isinstance(m, _RELU + _SQUASH)}
    if not layers:
        raise NotApplicable("the model has no nn.ReLU, nn.Sigmoid or nn.Tanh module (functional calls are not seen)")
    stats: dict[str, dict[str, Any]] = {}

    def hook(m: nn.Module, _inputs: tuple, out: torch.Tensor) -> None:
        if not isinstance(out, torch.Tensor) or out.dim() < 2:
            return
        x = out.detach().float()
        name = layers[m]
        if isinstance(m, _RELU):
            units = x.movedim(1, -1).reshape(-1, x.shape[1]) if x.dim() > 2 else x
            stats[name] = {"kind": "relu", "dead_fraction": float((units <= 0).all(0).float().mean())}
        else:
            lo, hi = (0.0, 1.0) if isinstance(m, nn.Sigmoid) else (-1.0, 1.0)
            margin = 0.01 * (hi - lo)
            stats[name] = {"kind": type(m).__name__.lower(),
                           "saturated_fraction": float(((x < lo + margin) | (x > hi - margin)).float().mean())}

    handles = [m.register_forward_hook(hook) for m in layers]
    try:
        with torch.no_grad():
            setup.forward(model)
    finally:
        for h in handles:
            h.remove()
    found = []
    dead = {n: s["dead_fraction"] for n, s in stats.items() if s.get("dead_fraction", 0) >= dead_threshold}
    if dead:
        worst = max(dead, key=dead.get)
        found.append(finding("dead-relu", f"{len(dead)} ReLU layer(s) with at least {dead_threshold:.0%} of their units inactive on every "
                             f"sample of the batch; worst `{worst}`: {dead[worst]:.0%} dead", "checkup",
                             evidence={"layers": stats}, location={"module": worst}))
    sat = {n: s["saturated_fraction"] for n, s in stats.items() if s.get("saturated_fraction", 0) >= SATURATED}
    if sat:
        worst = max(sat, key=sat.get)
        found.append(finding("saturated-activations", f"{len(sat)} sigmoid/tanh layer(s) with at least half their outputs "
                             f"within 1% of the bounds; worst `{worst}`: {sat[worst]:.0%}", "checkup",
                             evidence={"layers": stats}, location={"module": worst}))
    return found, {"layers": stats}
