"""Gradient flow per parameter, update/parameter ratios over a few real steps, gradcheck of
custom autograd Functions."""

from __future__ import annotations

import statistics
from typing import Any, TypedDict

import torch

from ...judge import probes as probe_rules
from ...judge.thresholds import GRADCHECK_ATOL, GRADCHECK_EPS, GRADCHECK_RTOL
from ...measure.stats import tensors_in
from ...vocabulary.finding import Finding
from ..registry import Context, probe
from ..setup import NotApplicable, Setup

UPDATE_STEPS = 5


class _Flow(TypedDict):
    disconnected: list[str]  # trainable parameters with no gradient (grad None)
    zero_gradient: list[str]  # with an all-zero gradient
    layers: list[dict[str, Any]]  # per weight matrix: name, relative_grad (|grad|/|weight|), grad_norm


class GradientFlowRecord(_Flow, total=False):
    first_last_ratio: float  # relative gradient of the first weight matrix over the last one's


class UpdateRatioRecord(TypedDict):
    per_layer: dict[str, float]  # median ||update||/||weight|| per weight matrix
    median: float  # over the layers
    optimizer: str
    lr: list[float]  # per parameter group


class GradcheckRecord(TypedDict):
    functions: list[dict[str, Any]]  # per custom Function: function, passed, error
    inputs: list[str]


def _relative_grads(model: torch.nn.Module) -> list[tuple[str, float, float]]:
    """(name, |grad|/|param|, |grad|) for weight matrices, in registration (≈ forward) order.

    Zero-initialized tensors (positional embeddings, zero-init heads) have no scale to compare to.
    """
    out = []
    for name, p in model.named_parameters():
        if p.requires_grad and p.dim() >= 2 and p.grad is not None:
            g, w = float(p.grad.norm()), float(p.detach().norm())
            if w > 0:
                out.append((name, g / w, g))
    return out


@probe("gradient-flow", order=40,
       about="one backward: disconnected and all-zero gradients, |grad|/|weight| per layer, first over last layer")
def gradient_flow(setup: Setup, context: Context) -> tuple[list[Finding], GradientFlowRecord]:
    model = setup.copy_model(train=True)
    with torch.enable_grad():
        _, loss = setup.step_loss(model)
        loss.backward()
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    disconnected = [n for n, p in trainable if p.grad is None]
    dead = [n for n, p in trainable if p.grad is not None and not bool(p.grad.any())]
    layers = _relative_grads(model)
    record = GradientFlowRecord(disconnected=disconnected, zero_gradient=dead,
                                layers=[{"name": n, "relative_grad": r, "grad_norm": g} for n, r, g in layers])
    found = [probe_rules.disconnected_parameters(disconnected, len(trainable), record)]
    if len(layers) >= 2 and layers[-1][1] > 0:
        record["first_last_ratio"] = layers[0][1] / layers[-1][1]
        found.append(probe_rules.gradient_ratio(record["first_last_ratio"], layers[0][:2], layers[-1][:2], record))
    return [f for f in found if f], record


@probe("update-ratio", order=120,
       about=f"{UPDATE_STEPS} real optimizer steps on a copy: ||update||/||weight|| per weight matrix")
def update_ratio(setup: Setup, context: Context) -> tuple[list[Finding], UpdateRatioRecord]:
    model = setup.copy_model(train=True)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise NotApplicable("the model has no trainable parameter")
    opt = setup.make_optimizer(params)
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad and p.dim() >= 2]
    ratios: dict[str, list[float]] = {n: [] for n, _ in named}
    with torch.enable_grad():
        for _ in range(UPDATE_STEPS):
            before = [p.detach().clone() for _, p in named]
            opt.zero_grad(set_to_none=True)
            setup.step_loss(model)[1].backward()
            opt.step()
            for (n, p), b in zip(named, before):
                w = float(b.norm())
                if w > 0:
                    ratios[n].append(float((p.detach() - b).norm()) / w)
    per_layer = {n: statistics.median(v) for n, v in ratios.items() if v}
    if not per_layer:
        raise NotApplicable("no weight matrix to measure")
    median = statistics.median(per_layer.values())
    lr = [float(g["lr"]) for g in opt.param_groups]
    record = UpdateRatioRecord(per_layer=per_layer, median=median, optimizer=type(opt).__name__, lr=lr)
    found = probe_rules.update_size(median, f"{type(opt).__name__} (lr {lr[0]:.3g})", UPDATE_STEPS, dict(record))
    return [found] if found else [], record


@probe("gradcheck", order=130,
       about="torch.autograd.gradcheck (float64) of each custom autograd.Function one forward on 2 samples calls")
def gradcheck_functions(setup: Setup, context: Context) -> tuple[list[Finding], GradcheckRecord]:
    """Capture each custom autograd.Function call in one forward on 2 samples, then gradcheck it in float64."""
    calls: dict[type, tuple] = {}
    original = torch.autograd.Function.apply.__func__

    def capture(cls, *args, **kwargs):
        if cls not in calls and not cls.__module__.startswith("torch"):
            calls[cls] = args
        return original(cls, *args, **kwargs)

    small = setup.subset(min(2, setup.batch_size)) if setup.axis.axis is not None else setup
    model = setup.copy_model(train=False)
    torch.autograd.Function.apply = classmethod(capture)
    try:
        with torch.enable_grad():
            small.forward(model)
    finally:
        torch.autograd.Function.apply = classmethod(original)
    if not calls:
        raise NotApplicable("the model calls no custom autograd.Function")
    found, checked = [], []
    for cls, args in calls.items():
        inputs = [a.detach().double().requires_grad_(a.is_floating_point()) if isinstance(a, torch.Tensor) else a for a in args]
        if not any(isinstance(a, torch.Tensor) and a.requires_grad for a in inputs):
            continue
        try:
            # fast mode checks random projections: a few passes whatever the size of the Function's inputs
            ok = torch.autograd.gradcheck(lambda *xs: cls.apply(*xs), tuple(inputs), eps=GRADCHECK_EPS,
                                          atol=GRADCHECK_ATOL, rtol=GRADCHECK_RTOL, raise_exception=True, fast_mode=True)
            error = None
        except Exception as exc:  # gradcheck reports a mismatch by raising
            ok, error = False, str(exc).splitlines()[0][:300]
        checked.append({"function": cls.__qualname__, "passed": bool(ok), "error": error})
        if not ok:
            found.append(probe_rules.bad_custom_gradient(cls.__qualname__, error, checked[-1]))
    return found, GradcheckRecord(functions=checked, inputs=[n for n, _ in tensors_in(setup.inputs)])
