"""Causal independence: outputs at positions <= t must not change when inputs after t do."""

from __future__ import annotations

from typing import Any

import torch

from ..findings import Finding, finding
from ..record.stats import batch_tensors
from .setup import NotApplicable, Setup, main_output

TOL = 1e-5


def _next_token_task(setup: Setup, x: torch.Tensor) -> bool:
    """Targets equal to the inputs shifted by one: the signature of a next-token (causal) LM."""
    y = setup.targets if isinstance(setup.targets, torch.Tensor) else (
        setup.inputs.get("labels") if isinstance(setup.inputs, dict) else None)
    if not isinstance(y, torch.Tensor) or y.shape != x.shape or x.dim() != 2:
        return False
    shifted = torch.equal(y[:, :-1], x[:, 1:])
    hf_style = torch.equal(y, x)  # Hugging Face causal LMs shift inside the model
    return shifted or (hf_style and isinstance(setup.inputs, dict))


def causal(setup: Setup, causal: bool | None = None) -> tuple[list[Finding], dict[str, Any]]:
    name, x = next(((n, t) for n, t in batch_tensors((setup.inputs,), {}) if t.dim() >= 2), (None, None))
    if x is None:
        raise NotApplicable("no input with a sequence dimension")
    model = setup.copy_model(train=False)
    with torch.no_grad():
        base = main_output(setup.forward(model))
    if base is None or base.dim() < 3 or base.shape[:2] != x.shape[:2]:
        raise NotApplicable("not a sequence model (the output is not (batch, positions, ...) like the input)")
    T = x.shape[1]
    t = T // 2
    gen = torch.Generator().manual_seed(0)
    later = x.clone()
    if x.is_floating_point():
        later[:, t + 1:] = torch.randn(later[:, t + 1:].shape, generator=gen).to(x.dtype)
    else:
        later[:, t + 1:] = torch.randint(int(x.min()), int(x.max()) + 1, later[:, t + 1:].shape, generator=gen).to(x.dtype)
    with torch.no_grad():
        moved = main_output(setup.forward(model, setup.replace_inputs(lambda v: later if v is x else v)))
    change = float((moved[:, : t + 1] - base[:, : t + 1]).abs().max() / (base.abs().max() + 1e-12))
    expected = causal if causal is not None else _next_token_task(setup, x)
    record = {"input": name, "position": t, "relative_change_up_to_t": change, "causal_expected": expected}
    if change > TOL and expected:
        return [finding("causal-leak", f"changing input `{name}` after position {t} changed the outputs at positions "
                        f"0..{t} (max relative change {change:.2g}) of a next-token model", "checkup", evidence=record)], record
    record["note"] = "outputs up to t are independent of later inputs" if change <= TOL else \
        "the model is bidirectional (fine unless it must be causal; pass causal=True to require it)"
    return [], record
