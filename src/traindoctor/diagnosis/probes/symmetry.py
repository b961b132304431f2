"""Units that are copies of each other: a layer whose units (a row of weights and a bias each) are all identical.

Units with identical incoming weights compute the same value; if the gradient they receive is identical
too (constant or zero initialisation of consecutive layers), every update keeps them identical and the
layer works as one unit, whatever its width. After training (`run`), rows still identical are that
symmetry never broken; at initialisation (`checkup`), rows identical and gradients identical on the batch
are that it will not break.
"""

from __future__ import annotations

from typing import TypedDict

import torch
from torch import nn

from ...judge import probes as probe_rules
from ...judge.thresholds import SYMMETRIC_TOLERANCE
from ...vocabulary.finding import Finding
from ..registry import Context, probe
from ..setup import NotApplicable, Setup, SetupError


class SymmetryRecord(TypedDict, total=False):
    layers: dict[str, int]  # layer -> units, for the layers whose units are all identical
    note: str


def _identical_rows(t: torch.Tensor, bias: torch.Tensor | None = None) -> bool:
    """Every unit the same: its row of weights, and its bias (a unit is both)."""
    rows = t.detach().reshape(t.shape[0], -1).float()
    if bias is not None and bias.shape == (t.shape[0],):
        rows = torch.cat([rows, bias.detach().float()[:, None]], 1)
    scale = float(rows.abs().max())
    return bool((rows - rows[:1]).abs().max() <= SYMMETRIC_TOLERANCE * (scale + 1e-30))


def _symmetric(model: nn.Module) -> dict[str, nn.Parameter]:
    """The trainable weights of ≥ 2 output units (dim 0) whose rows are all identical."""
    return {f"{name}.weight" if name else "weight": m.weight for name, m in model.named_modules()
            if isinstance(getattr(m, "weight", None), nn.Parameter) and m.weight.requires_grad
            and m.weight.dim() >= 2 and m.weight.shape[0] >= 2 and not isinstance(m, nn.Embedding)
            and _identical_rows(m.weight, getattr(m, "bias", None))}


def _bias_grad(model: nn.Module, weight: str) -> torch.Tensor | None:
    bias = getattr(model.get_submodule(weight.rsplit(".", 1)[0]) if "." in weight else model, "bias", None)
    return bias.grad if isinstance(bias, torch.Tensor) else None


@probe("symmetry", order=115, cheap=True,
       about="layers whose units all have identical weights (and, before training, identical gradients)")
def symmetry(setup: Setup, context: Context) -> tuple[list[Finding], SymmetryRecord]:
    model = setup.copy_model(train=True)
    found = _symmetric(model)
    if not found:
        return [], SymmetryRecord(note="no layer with all units identical")
    if not context.options.trained:  # before training: only if the gradient keeps them identical
        try:
            with torch.enable_grad():
                setup.step_loss(model)[1].backward()
        except SetupError as exc:
            raise NotApplicable(f"identical units at initialisation, but no loss to see if training separates them: {exc}")
        found = {n: w for n, w in found.items() if w.grad is not None and _identical_rows(w.grad, _bias_grad(model, n))}
    record = SymmetryRecord(layers={n: int(w.shape[0]) for n, w in found.items()})
    finding = probe_rules.symmetric_units(record["layers"], context.options.trained, dict(record))
    return ([finding] if finding else []), record
