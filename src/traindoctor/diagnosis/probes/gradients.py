"""Gradient flow per parameter, update/parameter ratios over a few real steps, gradcheck of
custom autograd Functions."""

from __future__ import annotations

import statistics
from typing import Any

import torch

from ...vocabulary.finding import Finding, finding
from ...measure.stats import tensors_in
from ..setup import NotApplicable, Setup

VANISHING = 1e-4  # first-layer relative gradient / last-layer relative gradient
EXPLODING = 1e4
HIGH_UPDATE, LOW_UPDATE = 1e-1, 1e-6  # median per-layer update/weight ratio; ~1e-3 is healthy
UPDATE_STEPS = 5


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


def gradient_flow(setup: Setup) -> tuple[list[Finding], dict[str, Any]]:
    model = setup.copy_model(train=True)
    with torch.enable_grad():
        _, loss = setup.step_loss(model)
        loss.backward()
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    disconnected = [n for n, p in trainable if p.grad is None]
    dead = [n for n, p in trainable if p.grad is not None and not bool(p.grad.any())]
    layers = _relative_grads(model)
    record: dict[str, Any] = {"disconnected": disconnected, "zero_gradient": dead,
                              "layers": [{"name": n, "relative_grad": r, "grad_norm": g} for n, r, g in layers]}
    found = []
    if disconnected:
        every = len(disconnected) == len(trainable)
        found.append(finding("optimizer-params-unused", f"{len(disconnected)} of {len(trainable)} trainable parameter tensors get "
                             f"no gradient from the loss (grad is None): " + ", ".join(f"`{n}`" for n in disconnected[:4]),
                             "checkup", severity="error" if every else "warning", evidence=record,
                             location={"module": disconnected[0]}))
    if len(layers) >= 2 and layers[-1][1] > 0:
        ratio = layers[0][1] / layers[-1][1]
        record["first_last_ratio"] = ratio
        where = f"`{layers[0][0]}` {layers[0][1]:.2g} vs `{layers[-1][0]}` {layers[-1][1]:.2g} (|grad|/|weight|)"
        if ratio < VANISHING:
            found.append(finding("vanishing-gradients", f"first/last layer relative gradient {ratio:.2g}: {where}",
                                 "checkup", evidence=record, location={"module": layers[0][0]}))
        elif ratio > EXPLODING:
            found.append(finding("exploding-gradients", f"first/last layer relative gradient {ratio:.2g}: {where}",
                                 "checkup", evidence=record, location={"module": layers[0][0]}))
    return found, record


def update_ratio(setup: Setup) -> tuple[list[Finding], dict[str, Any]]:
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
    record = {"per_layer": per_layer, "median": median, "optimizer": type(opt).__name__, "lr": lr}
    label = f"{type(opt).__name__} (lr {lr[0]:.3g})"
    if median > HIGH_UPDATE:
        return [finding("lr-too-high", f"{label}: median update/weight ratio over {UPDATE_STEPS} steps on a copy is "
                        f"{median:.2g} (healthy: about 1e-3)", "checkup", severity="warning", evidence=record)], record
    if median < LOW_UPDATE:
        return [finding("lr-too-low", f"{label}: median update/weight ratio over {UPDATE_STEPS} steps on a copy is "
                        f"{median:.2g} (healthy: about 1e-3)", "checkup", evidence=record)], record
    return [], record


def gradcheck_functions(setup: Setup) -> tuple[list[Finding], dict[str, Any]]:
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
            ok = torch.autograd.gradcheck(lambda *xs: cls.apply(*xs), tuple(inputs), eps=1e-6, atol=1e-5, rtol=1e-3,
                                          raise_exception=True, fast_mode=True)
            error = None
        except Exception as exc:  # gradcheck reports a mismatch by raising
            ok, error = False, str(exc).splitlines()[0][:300]
        checked.append({"function": cls.__qualname__, "passed": bool(ok), "error": error})
        if not ok:
            found.append(finding("bad-custom-gradient", f"gradcheck (float64) of `{cls.__qualname__}` failed: {error}",
                                 "checkup", evidence=checked[-1], location={"module": cls.__qualname__}))
    return found, {"functions": checked, "inputs": [n for n, _ in tensors_in(setup.inputs)]}
