"""Dead ReLU units and saturated sigmoid/tanh units, per layer, from one forward pass on a copy; and the gates
of recurrent layers, whose sigmoids and tanhs run inside one fused op no module hook sees.

A recurrent layer's gates are read where its input drives them: the first layer's input-to-hidden part
(W_ih x + b_ih + b_hh, exact at the first time step, where the state is zero), with the weights training
started from when they are known. A trained LSTM may hold a forget gate open on purpose; an input that pins
the gates from the first update on is a scale the layer was never given a chance with."""

from __future__ import annotations

from typing import TypedDict

import torch
from torch import nn

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
    if not tap.layers and not any(isinstance(m, nn.RNNBase) for m in model.modules()):
        raise NotApplicable("the model has no nn.ReLU, nn.Sigmoid, nn.Tanh or recurrent module (functional calls "
                            "are not seen)")
    produced: dict[str, torch.Tensor] = {}  # layer -> the output of its last call
    hooks = [m.register_forward_hook(lambda _m, _a, out, name=name: produced.__setitem__(name, out))
             for m, name in tap.layers.items()]
    tap.arm()
    try:
        with torch.no_grad():
            output = main_output(setup.forward(model))
    finally:
        measured = tap.disarm()
        for h in hooks:
            h.remove()
    # A sigmoid or tanh whose output is the model's output (itself, or a view of it: `.view(-1)`) feeds the loss
    # directly: near its bounds it is confident (a likelihood loss's gradient, p - y, does not vanish there),
    # which the loss judges, not this.
    last = {name for name, out in produced.items() if _same_values(out, output)}
    stats = {name: {"kind": "relu" if kind == "dead_fraction" else type(m).__name__.lower(), kind: float(v)}
             for m, name in tap.layers.items() if name in measured and name not in last
             for kind, v in [measured[name]]}
    if context.options.trained and context.options.start is not None:
        _mark_from_start(setup, context.options.start, stats)
    record = ActivationsRecord(layers=stats)
    samples = setup.batch_size if setup.axis.axis is not None else 1
    if samples < DEAD_MIN_SAMPLES:
        record["note"] = f"dead units not judged on {samples} sample(s) (at least {DEAD_MIN_SAMPLES} are needed)"
    stats.update(_recurrent_gates(setup, context.options.start if context.options.trained else None))
    found = [probe_rules.dead_relu(stats, samples, context.options.dead_relu), probe_rules.saturated_activations(stats, context.options.trained)]
    return [f for f in found if f], record


def _mark_from_start(setup: Setup, start: dict[str, torch.Tensor], stats: dict[str, dict[str, float | str]]) -> None:
    """Each sigmoid/tanh layer's saturated share at the weights training started from ("at_start"): pinned there,
    its flat region is where the initialisation put it, a cause of what training met rather than what it did."""
    model = setup.copy_model(train=True)
    try:
        model.load_state_dict(start)
    except (RuntimeError, KeyError):
        return  # a model whose parameters changed shape since: nothing to compare
    tap = ActivationTap(model)
    tap.arm()
    try:
        with torch.no_grad():
            setup.forward(model)
    finally:
        measured = tap.disarm()
    for name, (kind, v) in measured.items():
        if kind == "saturated_fraction" and name in stats:
            stats[name]["at_start"] = float(v)


def _same_values(a: object, b: object) -> bool:
    """b is a, or a view of all of a (a reshape, a squeeze): the same memory, the same elements."""
    if not isinstance(a, torch.Tensor) or not isinstance(b, torch.Tensor):
        return False
    return a is b or (a.numel() == b.numel() and a.untyped_storage().data_ptr() == b.untyped_storage().data_ptr()
                      and a.storage_offset() == b.storage_offset())


# Per fused gate chunk, in torch's order: which squashing function it goes through.
_GATES = {"LSTM": ("sigmoid", "sigmoid", "tanh", "sigmoid"), "GRU": ("sigmoid", "sigmoid", "tanh"), "RNN_TANH": ("tanh",)}


def _recurrent_gates(setup: Setup, start: dict[str, torch.Tensor] | None) -> dict[str, dict[str, float | str]]:
    """Per recurrent layer (sigmoid/tanh gates only): the share of its first layer's gate values within 1% of
    their bounds, from the input it receives, on a copy put back to `start` when training began there."""
    model = setup.copy_model(train=True)
    rnns = {name: m for name, m in model.named_modules() if isinstance(m, nn.RNNBase) and m.mode in _GATES}
    if not rnns:
        return {}
    if start is not None:
        model.load_state_dict(start)
    inputs: dict[str, torch.Tensor] = {}
    hooks = [m.register_forward_pre_hook(lambda _m, args, name=name: inputs.setdefault(name, args[0]))
             for name, m in rnns.items()]
    try:
        with torch.no_grad():
            setup.forward(model, seed=0)
    finally:
        for h in hooks:
            h.remove()
    out: dict[str, dict[str, float | str]] = {}
    for name, x in inputs.items():
        m = rnns[name]
        if not isinstance(x, torch.Tensor) or not x.is_floating_point() or x.shape[-1] != m.input_size:
            continue  # a packed sequence: its data are read no further here
        with torch.no_grad():
            pre = x.reshape(-1, m.input_size).float() @ m.weight_ih_l0.float().T
            if m.bias:
                pre = pre + m.bias_ih_l0.float() + m.bias_hh_l0.float()
            chunks = pre.chunk(len(_GATES[m.mode]), dim=1)
            pinned = sum(float(((c.sigmoid() - 0.5).abs() >= 0.49).sum() if kind == "sigmoid" else
                               (c.tanh().abs() >= 0.99).sum()) for c, kind in zip(chunks, _GATES[m.mode]))
        out[f"{name} (gates)"] = {"kind": f"{type(m).__name__.lower()} gates", "saturated_fraction": pinned / pre.numel()}
    return out
