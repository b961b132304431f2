"""Can the model carry what the targets vary in? A layer that every sample's output passes through, narrower
than the dimensions the targets spread over, sets a floor under the loss whatever the training.

Measured, not read from the module list: each trainable layer narrower than the targets is tried in turn,
narrowest first — its output replaced by its mean over the batch, is every sample's output then the same?
Then all that distinguishes the samples passes through its `w` units (a skip connection around it, or a
parallel path, fails the test). The targets' principal components say how much of their variance lies
outside any `w` directions: the share a reconstruction through that layer cannot reach with a linear read-out
(a curved manifold of dimension `w` can do somewhat better, so the share is a guide, not a bound). Regression
and reconstruction targets only: class labels need no width, a 1-unit score can still order K classes.
"""

from __future__ import annotations

from typing import Any, TypedDict

import torch
from torch import nn

from ...judge import probes as probe_rules
from ...judge.thresholds import OUTPUT_CHANGE
from ..registry import Context, probe
from ..setup import NotApplicable, Setup, main_output
from ...vocabulary.finding import Finding

TRIED = 3  # the narrowest layers tried: a bound on forwards


class BottleneckRecord(TypedDict, total=False):
    layer: str  # the narrowest layer all of the samples' information passes through
    width: int  # its units per sample
    target_dims: int  # values per sample in the targets
    dims_for_95: int  # principal directions holding 95% of the targets' variance
    unexplained_share: float  # the targets' variance outside their top `width` principal directions
    note: str


@probe("bottleneck", order=117, cheap=True,
       about="the narrowest layer every sample's output passes through, against the directions the targets vary in")
def bottleneck(setup: Setup, context: Context) -> tuple[list[Finding], BottleneckRecord]:
    y = _targets(setup)
    B, D = y.shape
    model = setup.copy_model(train=False)
    widths = layer_widths(model, setup)
    # A batch of B samples shows at most B - 1 directions, and its top ones fit its own noise: the share outside
    # them is underestimated (never a false alarm), and meaningless for widths near B.
    narrow = sorted((w, n) for n, w in widths.items() if w < D and 2 * w < B)[:TRIED]
    if not narrow:
        return [], BottleneckRecord(target_dims=D, note=f"no trainable layer narrower than the targets' {D} values")
    with torch.no_grad():
        base = main_output(setup.forward(model, seed=0))
    for width, name in narrow:
        if _all_through(model, setup, name, base):
            share, dims = _spectrum(y, width)
            record = BottleneckRecord(layer=name, width=width, target_dims=D, dims_for_95=dims,
                                      unexplained_share=share)
            found = probe_rules.capacity_bottleneck(name, width, D, dims, share, dict(record))
            return ([found] if found else []), record
    return [], BottleneckRecord(target_dims=D, note="every layer narrower than the targets has a way around it")


def _targets(setup: Setup) -> torch.Tensor:
    """The targets as (samples, values): floating, several values per sample, more samples than values."""
    y, B = setup.targets, setup.axis.size
    if not isinstance(y, torch.Tensor) or not y.is_floating_point() or y.dim() < 2 or y.shape[0] != B:
        raise NotApplicable("no floating targets with several values per sample (a regression or a reconstruction)")
    y = y.detach().reshape(B, -1).double()
    if y.shape[1] < 2 or B < 4 or not torch.isfinite(y).all():
        raise NotApplicable("too few samples, or values, to read the directions the targets vary in")
    return y


def layer_widths(model: nn.Module, setup: Setup) -> dict[str, int]:
    """Values per sample each trainable layer outputs, on the batch. A layer called more than once (per time
    step of a sequence, per branch) is no cut: each call carries only part of what the samples hold."""
    widths: dict[str, int] = {}
    calls: dict[str, int] = {}
    B = setup.axis.size

    def keep(name: str):
        def hook(_m: nn.Module, _args: Any, out: Any) -> None:
            calls[name] = calls.get(name, 0) + 1
            t = main_output(out)
            if isinstance(t, torch.Tensor) and t.is_floating_point() and t.dim() >= 2 and t.shape[0] == B:
                widths[name] = t[0].numel()
        return hook

    handles = [m.register_forward_hook(keep(n)) for n, m in model.named_modules()
               if any(p.requires_grad for p in m.parameters(recurse=False))]
    try:
        with torch.no_grad():
            setup.forward(model, seed=0)
    finally:
        for h in handles:
            h.remove()
    return {n: w for n, w in widths.items() if calls[n] == 1}


def _all_through(model: nn.Module, setup: Setup, name: str, base: torch.Tensor | None) -> bool:
    """With `name`'s output replaced by its mean over the batch, is every sample's output the same?"""
    if base is None or base.dim() == 0 or base.shape[0] != setup.axis.size:
        return False

    def mean(_m: nn.Module, _args: Any, out: Any) -> Any:
        return out.mean(0, keepdim=True).expand_as(out) if isinstance(out, torch.Tensor) else out

    handle = model.get_submodule(name).register_forward_hook(mean)
    try:
        with torch.no_grad():
            out = main_output(setup.forward(model, seed=0))
    finally:
        handle.remove()
    if out is None or out.shape != base.shape:
        return False
    spread = float((out - out[:1]).abs().max())
    return spread <= OUTPUT_CHANGE * max(float((base - base[:1]).abs().max()), 1e-12)


def _spectrum(y: torch.Tensor, width: int) -> tuple[float, int]:
    """The targets' variance outside their top `width` principal directions (a share), and how many
    directions hold 95% of it."""
    values = torch.linalg.svdvals(y - y.mean(0)) ** 2
    total = float(values.sum()) or 1.0
    share = float(values[width:].sum()) / total
    dims = int((torch.cumsum(values, 0) / total < 0.95).sum()) + 1
    return share, dims
