"""Causal independence: outputs at positions <= t must not change when inputs after t do.

Positions are the dim next to the batch axis (dim 1 of (batch, seq), dim 0 of (seq, batch))."""

from __future__ import annotations

from typing import TypedDict

import torch

from ...judge import probes as probe_rules
from ...judge.thresholds import OUTPUT_CHANGE
from ...vocabulary.finding import Finding
from ..axis import batch_dim, noise
from ..registry import Context, probe
from ..setup import NotApplicable, Setup
from ..tree import tree_map


class _Change(TypedDict):
    input: str  # the input tensor changed after `position`
    position: int
    relative_change_up_to_t: float
    causal_expected: bool  # given (checkup's causal=) or inferred from next-token targets


class CausalRecord(_Change, total=False):
    note: str


def _next_token_task(setup: Setup, x: torch.Tensor, dim: int) -> bool:
    """Targets equal to the inputs shifted by one: the signature of a next-token (causal) LM."""
    y = setup.targets if isinstance(setup.targets, torch.Tensor) else (
        setup.inputs.get("labels") if isinstance(setup.inputs, dict) else None)
    if not isinstance(y, torch.Tensor) or y.numel() != x.numel() or x.dim() != 2:
        return False
    y = y.reshape(x.shape)  # a target flattened for the loss (B*T,) keeps the inputs' order
    x, y = x.movedim(dim, 0), y.movedim(dim, 0)
    shifted = torch.equal(y[:, :-1], x[:, 1:])
    hf_style = torch.equal(y, x)  # Hugging Face causal LMs shift inside the model
    return shifted or (hf_style and isinstance(setup.inputs, dict))


@probe("causal-independence", order=80, cheap=True,
       about="replace the inputs after position T/2 and compare the outputs up to it (a next-token model must not change)")
def causal(setup: Setup, context: Context) -> tuple[list[Finding], CausalRecord]:
    B = setup.need_samples(1)
    name, x = setup.primary
    if x.dim() < 2:
        raise NotApplicable("no input with a sequence dimension")
    dim = batch_dim(x, B, setup.axis.axis)
    bx = x.movedim(dim, 0)  # (batch, positions, ...)
    model = setup.copy_model(train=False)
    with torch.no_grad():
        base = setup.per_sample(setup.forward(model, seed=0))
    if base is None or base.dim() < 3 or base.shape[1] != bx.shape[1]:
        raise NotApplicable("not a sequence model (the output is not (batch, positions, ...) like the input)")
    T = bx.shape[1]
    t = T // 2
    gen = torch.Generator().manual_seed(0)
    later = bx.clone()
    tail = later[:, t + 1:]
    if x.is_floating_point():
        tail.copy_(noise(torch.randn(tail.shape, generator=gen), x))
    else:
        tail.copy_(noise(torch.randint(int(x.min()), int(x.max()) + 1, tail.shape, generator=gen), x))
    later = later.movedim(0, dim).contiguous()
    with torch.no_grad():
        moved = setup.per_sample(setup.forward(model, tree_map(setup.inputs, lambda v, _: later if v is x else v), seed=0))
    if moved is None or moved.shape != base.shape:
        raise NotApplicable("the output's shape changes with later inputs")
    change = float((moved[:, : t + 1] - base[:, : t + 1]).abs().max() / (base.abs().max() + 1e-12))
    given = context.options.causal
    expected = given if given is not None else _next_token_task(setup, x, dim)
    record = CausalRecord(input=name, position=t, relative_change_up_to_t=change, causal_expected=expected)
    found = probe_rules.causal_leak(change, expected, name, t, record)
    if found:
        return [found], record
    record["note"] = "outputs up to t are independent of later inputs" if change <= OUTPUT_CHANGE else \
        "the model is bidirectional (fine unless it must be causal; pass causal=True to require it)"
    return [], record
