"""Dead ReLU units and saturated sigmoid/tanh units, per layer, from one forward pass on a copy; and the gates
of recurrent layers, whose sigmoids and tanhs run inside one fused op no module hook sees.

A recurrent layer's gates are read by running its first layer step by step over the first time steps of the
sequence it receives (W_ih x + W_hh h + b: the state's part pins them as surely as the input's), with the
weights training started from when they are known. A trained LSTM may hold a forget gate open on purpose; an input that pins
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


# The recurrent layers whose gates are bounded (a ReLU RNN's are not).
_GATES = ("LSTM", "GRU", "RNN_TANH")
# Time steps a recurrent layer's gates are read over: the state reaches its scale within a few.
UNROLL_STEPS = 32


def _recurrent_gates(setup: Setup, start: dict[str, torch.Tensor] | None) -> dict[str, dict[str, float | str]]:
    """Per recurrent layer (sigmoid/tanh gates only): the share of its first layer's gate values within 1% of
    their bounds over the sequence it receives, on a copy put back to `start` when training began there."""
    model = setup.copy_model(train=True)
    rnns = {name: m for name, m in model.named_modules() if isinstance(m, nn.RNNBase) and m.mode in _GATES}
    if not rnns:
        return {}
    if start is not None:
        model.load_state_dict(start)
    calls: dict[str, tuple] = {}
    hooks = [m.register_forward_pre_hook(lambda _m, args, name=name: calls.setdefault(name, args))
             for name, m in rnns.items()]
    try:
        with torch.no_grad():
            setup.forward(model, seed=0)
    finally:
        for h in hooks:
            h.remove()
    out: dict[str, dict[str, float | str]] = {}
    for name, args in calls.items():
        m, x = rnns[name], args[0]
        if not isinstance(x, torch.Tensor) or not x.is_floating_point() or x.shape[-1] != m.input_size:
            continue  # a packed sequence: its data are read no further here
        with torch.no_grad():
            pinned, total = _unrolled(m, x, args[1] if len(args) > 1 else None)
        out[f"{name} (gates)"] = {"kind": f"{type(m).__name__.lower()} gates", "saturated_fraction": pinned / total}
    return out


def _unrolled(m: nn.RNNBase, x: torch.Tensor, hx: object) -> tuple[float, int]:
    """(pinned, all) gate values of `m`'s first layer (forward direction) run step by step over the first
    UNROLL_STEPS time steps of `x`: the recurrent part W_hh h adds to W_ih x once the state has grown, and
    recurrent weights far above the 1/sqrt(hidden) scale pin the gates from the second step on."""
    if x.dim() == 2:
        x = x.unsqueeze(1)  # unbatched (time, features)
    elif m.batch_first:
        x = x.transpose(0, 1)
    x = x[:UNROLL_STEPS].float()
    batch, hidden = x.shape[1], m.hidden_size
    w_ih, w_hh = m.weight_ih_l0.float(), m.weight_hh_l0.float()
    b = (m.bias_ih_l0.float(), m.bias_hh_l0.float()) if m.bias else (0.0, 0.0)
    proj = getattr(m, "weight_hr_l0", None) if getattr(m, "proj_size", 0) else None
    h = torch.zeros(batch, w_hh.shape[1], device=x.device)
    c = torch.zeros(batch, hidden, device=x.device)
    state = hx[0] if isinstance(hx, tuple) else hx  # the LSTM's (h0, c0)
    if isinstance(state, torch.Tensor) and state.shape[-1] == h.shape[-1] and state[0].numel() == h.numel():
        h = state[0].float().reshape(h.shape)
        if isinstance(hx, tuple) and isinstance(hx[1], torch.Tensor) and hx[1][0].numel() == c.numel():
            c = hx[1][0].float().reshape(c.shape)
    pinned, total = 0.0, 0
    for x_t in x:
        gi, gh = x_t @ w_ih.T + b[0], h @ w_hh.T + b[1]
        if m.mode == "LSTM":
            i, f, g, o = (gi + gh).chunk(4, dim=1)
            sigmoids, tanhs = [i.sigmoid(), f.sigmoid(), o.sigmoid()], [g.tanh()]
            c = sigmoids[1] * c + sigmoids[0] * tanhs[0]
            h = sigmoids[2] * c.tanh()
            if proj is not None:
                h = h @ proj.float().T
        elif m.mode == "GRU":
            (ri, zi, ni), (rh, zh, nh) = gi.chunk(3, dim=1), gh.chunk(3, dim=1)
            r, z = (ri + rh).sigmoid(), (zi + zh).sigmoid()
            sigmoids, tanhs = [r, z], [(ni + r * nh).tanh()]
            h = (1 - z) * tanhs[0] + z * h
        else:
            sigmoids, tanhs = [], [(gi + gh).tanh()]
            h = tanhs[0]
        pinned += sum(float(((s - 0.5).abs() >= 0.49).sum()) for s in sigmoids)
        pinned += sum(float((t.abs() >= 0.99).sum()) for t in tanhs)
        total += sum(s.numel() for s in sigmoids + tanhs)
    return pinned, total
