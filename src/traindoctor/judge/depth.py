"""vanishing-gradients across depth, read from the recording: the gradient reaching the model's first weighted
layer, relative to that layer's weights, against the last layer's — and what it did to them over the run.

Why: a stack whose scale shrinks the signal layer after layer (an init far below the fan-in scale, saturating
units in series, no residual path or normalization) sends the first layers a gradient orders of magnitude
smaller, relative to their weights, than the last: they never move, and the model learns what the last layer
alone can. A gradient that is small only in number is no fault: an adaptive optimizer (Adam) rescales it and
the first layers move anyway; so the rule asks for the consequence too — the first layer moved far less than
the last over the run, and the loss does not learn.
Measured: the step records' gradient norm per owning module (median over the recorded steps of the optimizer
that steps the model), each over that module's weight norm at the start of training; the first and last
modules holding a weight matrix, in the model's parameter order (a lookup table — an embedding — is no layer
of the stack: its gradient reaches only the rows a batch used); their relative change from the start to the
end of the run.
Known blind spots: a model whose start was not kept (above the size limit); layers registered in another
order than they run; a loss that learns slowly but measurably. A module's gradient includes its bias's, and a
head's bias takes the loss's gradient whatever the depth: in a stack whose signal shrinks both ways (forward
and back, weights far below the fan-in scale) the weight matrices' own relative gradients are alike across
depth, all tiny, and the ratio read here is the head's bias against the first layer.
"""

from __future__ import annotations

import statistics
from typing import Any

import torch
from torch import nn

from ..measure.recorder import Recorder
from ..vocabulary.finding import Finding, finding
from ..vocabulary.numbers import fmt
from .common import main_model
from .numerics import why_not_learning
from .thresholds import VANISHING_FIRST_LAST, VANISHING_MOVED


def check(rec: Recorder) -> list[Finding]:
    info = main_model(rec)
    if info is None or rec.nonfinite is not None:
        return []
    start = rec.initial_states.get(id(info.module))
    stuck = why_not_learning(rec)
    if not start or stuck is None:
        return []
    layers = _layers(info.module, start)
    if len(layers) < 2:
        return []
    mine = {id(p) for p in info.module.parameters()}
    st = max(rec.optimizers.values(), key=lambda s: sum(id(p) in mine for p in s.params()), default=None)
    if st is None:
        return []
    grads: dict[str, list[float]] = {}
    for r in rec.records:
        if r["optimizer"] == st.index:
            for name, g in (r.get("grad_norm_by_module") or {}).items():
                if name in layers and isinstance(g, (int, float)):
                    grads.setdefault(name, []).append(float(g))
    measured = [n for n in layers if grads.get(n)]
    if len(measured) < 2:
        return []
    first, last = measured[0], measured[-1]
    rel = {n: statistics.median(grads[n]) / layers[n][0] for n in (first, last)}
    if not rel[last] > 0 or rel[first] >= VANISHING_FIRST_LAST * rel[last]:
        return []
    moved = {n: layers[n][1] for n in (first, last)}
    if not moved[last] > 0 or moved[first] >= VANISHING_MOVED * moved[last]:
        return []  # the optimizer moved the first layer anyway: a small gradient without consequence
    ratio = rel[first] / rel[last]
    return [finding("vanishing-gradients", f"the gradient reaching `{first}`, the model's first weighted layer, is "
                    f"{fmt(ratio)} of the last layer's (`{last}`), each relative to its weights at the start "
                    f"(|grad|/|weight| {fmt(rel[first])} vs {fmt(rel[last])}, median over {len(grads[first])} recorded "
                    f"steps); over the run `{first}` changed by {fmt(moved[first])} of its norm and `{last}` by "
                    f"{fmt(moved[last])}: the first layers do not learn; {stuck}", rec.source, severity="error",
                    evidence={"first": first, "last": last, "relative_grad": rel, "moved": moved,
                              "first_last_ratio": ratio},
                    location={"module": first})]


def _layers(model: nn.Module, start: dict[str, Any]) -> dict[str, tuple[float, float]]:
    """Per module holding a weight matrix (not an embedding), in parameter order: the norm of its parameters at
    the start, and their relative change since."""
    out: dict[str, tuple[float, float]] = {}
    modules = dict(model.named_modules())
    for name, p in model.named_parameters():
        owner = name.rpartition(".")[0] or "<root>"
        module = modules.get(name.rpartition(".")[0])
        t0 = start.get(name)
        if (owner in out or p.dim() < 2 or module is None or isinstance(module, nn.Embedding)
                or not isinstance(t0, torch.Tensor) or t0.shape != p.shape):
            continue
        own = [(q, start.get(f"{owner}.{k}" if owner != "<root>" else k)) for k, q in module.named_parameters(recurse=False)]
        own = [(q, t) for q, t in own if isinstance(t, torch.Tensor) and t.shape == q.shape]
        with torch.no_grad():
            w0 = sum(float(t.double().pow(2).sum()) for _, t in own) ** 0.5
            delta = sum(float((q.detach().double().cpu() - t.double().cpu()).pow(2).sum()) for q, t in own) ** 0.5
        if w0 > 0:
            out[owner] = (w0, delta / w0)
    return out
