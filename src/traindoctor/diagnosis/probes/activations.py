"""Dead ReLU units and saturated sigmoid/tanh units, per layer, from one forward pass on a copy."""

from __future__ import annotations

from typing import TypedDict

import torch

from ...judge import probes as probe_rules
from ...judge.thresholds import DEAD_MIN_SAMPLES
from ...measure.activations import ActivationTap
from ...vocabulary.finding import Finding
from ..registry import Context, probe
from ..setup import NotApplicable, Setup, main_output


class _Layers(TypedDict):
    # per layer: {"kind": "relu", "dead_fraction": f} or {"kind": "sigmoid"/"tanh", "saturated_fraction": f}
    layers: dict[str, dict[str, float | str]]


class ActivationsRecord(_Layers, total=False):
    note: str  # why dead units were not judged


@probe("activations", order=110, cheap=True,
       about="dead-unit and saturated fractions per nn.ReLU/Sigmoid/Tanh layer, from one forward pass")
def activations(setup: Setup, context: Context) -> tuple[list[Finding], ActivationsRecord]:
    model = setup.copy_model(train=True)
    tap = ActivationTap(model)
    if not tap.layers:
        raise NotApplicable("the model has no nn.ReLU, nn.Sigmoid or nn.Tanh module (functional calls are not seen)")
    produced: dict[str, int] = {}  # layer -> id of the output of its last call
    hooks = [m.register_forward_hook(lambda _m, _a, out, name=name: produced.__setitem__(name, id(out)))
             for m, name in tap.layers.items()]
    tap.arm()
    try:
        with torch.no_grad():
            output = main_output(setup.forward(model))
    finally:
        measured = tap.disarm()
        for h in hooks:
            h.remove()
    # A sigmoid or tanh whose output is the model's output feeds the loss directly: near its bounds it is
    # confident (a likelihood loss's gradient, p - y, does not vanish there), which the loss judges, not this.
    last = {name for name, ident in produced.items() if output is not None and ident == id(output)}
    stats = {name: {"kind": "relu" if kind == "dead_fraction" else type(m).__name__.lower(), kind: float(v)}
             for m, name in tap.layers.items() if name in measured and name not in last
             for kind, v in [measured[name]]}
    record = ActivationsRecord(layers=stats)
    samples = setup.batch_size if setup.axis.axis is not None else 1
    if samples < DEAD_MIN_SAMPLES:
        record["note"] = f"dead units not judged on {samples} sample(s) (at least {DEAD_MIN_SAMPLES} are needed)"
    found = [probe_rules.dead_relu(stats, samples, context.options.dead_relu), probe_rules.saturated_activations(stats)]
    return [f for f in found if f], record
