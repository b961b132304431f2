"""Dead ReLU units and saturated sigmoid/tanh units, per layer, from one forward pass on a copy."""

from __future__ import annotations

from typing import Any

import torch

from ...vocabulary.finding import Finding, finding
from ...measure.activations import ActivationTap
from ..setup import NotApplicable, Setup

# A layer with half its units never active on the batch: SageMaker Debugger's DeadRelu default
# (threshold_layer=50%). It fits a model at initialization; a trained model legitimately leaves
# many units unused on an easy task, so `run` (which probes after training) passes 0.9.
DEAD = 0.5
SATURATED = 0.5  # half the outputs pinned within 1% of the bounds
# A healthy unit is inactive on all of n samples with a chance of about 2^-n: on fewer samples than this,
# "never active" says nothing (one sample leaves half of any layer "dead").
DEAD_MIN_SAMPLES = 8


def activations(setup: Setup, dead_threshold: float = DEAD) -> tuple[list[Finding], dict[str, Any]]:
    model = setup.copy_model(train=True)
    tap = ActivationTap(model)
    if not tap.layers:
        raise NotApplicable("the model has no nn.ReLU, nn.Sigmoid or nn.Tanh module (functional calls are not seen)")
    tap.arm()
    try:
        with torch.no_grad():
            setup.forward(model)
    finally:
        measured = tap.disarm()
    stats = {name: {"kind": "relu" if kind == "dead_fraction" else type(m).__name__.lower(), kind: float(v)}
             for m, name in tap.layers.items() if name in measured for kind, v in [measured[name]]}
    found = []
    record: dict[str, Any] = {"layers": stats}
    samples = setup.batch_size if setup.axis.axis is not None else 1
    if samples < DEAD_MIN_SAMPLES:
        record["note"] = f"dead units not judged on {samples} sample(s) (at least {DEAD_MIN_SAMPLES} are needed)"
    dead = {n: s["dead_fraction"] for n, s in stats.items()
            if s.get("dead_fraction", 0) >= dead_threshold and samples >= DEAD_MIN_SAMPLES}
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
    return found, record
