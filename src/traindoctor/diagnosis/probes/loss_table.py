"""The loss table: a loss evaluated at representative inputs (zero, small, converged, degenerate, and the
inputs as given) -> its value and gradient per input, flagged where the gradient is zero above the loss's
lowest value (a dead zone) or a value is NaN or infinite. `traindoctor surface` tabulates a loss function
on its own inputs; the `loss-table` probe does it for checkup's loss on the model's real outputs.

Each point is its own forward and backward on fresh leaves: nothing of the caller's is touched."""

from __future__ import annotations

import math
from typing import Callable, TypedDict

import torch

from ...judge.surface import Row, flag, table_findings
from ...vocabulary.finding import Finding
from ..registry import Context, probe
from ..setup import NotApplicable, Setup

SMALL = 1e-3  # the "small" inputs: the given outputs scaled down, as a near-zero initialisation gives
SATURATE = 100.0  # the "degenerate" unbounded outputs: the given ones scaled up, as an overconfident model gives
MARGIN = 10.0  # the "converged" logits: the target class (or side) ahead by this much

Call = Callable[[dict[str, torch.Tensor]], torch.Tensor]  # the inputs by name -> the scalar loss


def evaluate(call: Call, values: dict[str, torch.Tensor], wrt: list[str]) -> tuple[float | None, dict[str, float | None], str]:
    """The loss at `values` and its gradient with respect to the inputs named in `wrt` (fresh leaves, one
    backward); a loss that raises gives (None, {}, the error)."""
    leaves = {k: v.detach().clone().requires_grad_(k in wrt and v.is_floating_point()) for k, v in values.items()}
    try:
        with torch.enable_grad():
            loss = call(leaves)
            grads = _grads(loss, [leaves[k] for k in wrt])
    except Exception as exc:  # the user's loss rejects this input: said in the row, not a crash
        return None, {}, f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
    return float(loss.detach()), {k: _size(g) for k, g in zip(wrt, grads)}, ""


def _grads(loss: torch.Tensor, leaves: list[torch.Tensor]) -> list[torch.Tensor | None]:
    if not loss.requires_grad:  # the loss does not reach its inputs: its gradient is zero
        return [torch.zeros_like(x) for x in leaves]
    grads = torch.autograd.grad(loss, [x for x in leaves if x.requires_grad], allow_unused=True)
    it = iter(grads)
    return [torch.zeros_like(x) if g is None else g for x, g in ((x, next(it) if x.requires_grad else None) for x in leaves)]


def _size(g: torch.Tensor) -> float:
    """A scalar input's derivative keeps its sign; a tensor's gradient is its L2 norm."""
    g = g.detach().double()
    return float(g) if g.numel() == 1 else float(g.norm())


# ── checkup: the user's loss on the model's real outputs ─────────────────────

class LossTableRecord(TypedDict):
    rows: list[Row]


@probe("loss-table", order=25,
       about="the loss at the model's real outputs and at zero, small, converged and degenerate ones: its value, "
             "its gradient, zero gradients above its lowest value and non-finite values")
def loss_table(setup: Setup, context: Context) -> tuple[list[Finding], LossTableRecord]:
    if setup.loss_fn is None:
        raise NotApplicable("the model computes its own loss: there is no loss function to tabulate")
    model = setup.copy_model(train=False)
    with torch.no_grad():
        out = setup.forward(model)
    if not isinstance(out, torch.Tensor) or not out.is_floating_point() or out.numel() == 0:
        raise NotApplicable("the model's output is not one floating-point tensor")
    out = out.detach()
    rows = []
    for name, at, value in outputs(out, setup.targets):
        loss, grad, error = evaluate(lambda v: setup.loss(v["output"]), {"output": value}, ["output"])
        rows.append(Row(input=name, at=at, loss=loss, grad=grad, **({"error": error} if error else {})))
    finite = out[torch.isfinite(out)]
    flag(rows, {"output": max(float(finite.double().norm()) if finite.numel() else 0.0, math.sqrt(out.numel()))})
    return table_findings(rows, "checkup"), LossTableRecord(rows=rows)


def outputs(out: torch.Tensor, targets) -> list[tuple[str, str, torch.Tensor]]:
    """The representative outputs, within what the model can output: probabilities (every value in [0, 1])
    are tried rounded to 0/1, as a saturated sigmoid or softmax gives in float32; unbounded outputs at zero,
    scaled down (small) and scaled up (degenerate). `converged` is the best of the perfect predictions the
    targets allow (the targets themselves, or logits with the target ahead by MARGIN)."""
    probability = bool(((out >= 0) & (out <= 1)).all())
    points = [("as given", "the model's outputs on the batch", out)]
    if not probability:
        points += [("zero", "all outputs 0", torch.zeros_like(out)),
                   ("small", f"the outputs x {SMALL:g}", out * SMALL)]
    points += [(f"converged", at, v) for at, v in _perfect(out, targets, probability)]
    if probability:
        points.append(("degenerate", "the outputs rounded to 0 or 1", (out > 0.5).to(out.dtype)))
    else:
        points.append(("degenerate", f"the outputs x {SATURATE:g}", out * SATURATE))
    return points


def _perfect(out: torch.Tensor, targets, probability: bool) -> list[tuple[str, torch.Tensor]]:
    if not isinstance(targets, torch.Tensor):
        return []
    scale = 1.0 if probability else MARGIN
    if targets.is_floating_point() and targets.shape == out.shape:
        found = [("outputs = targets", targets.to(out.dtype))]
        if not probability and bool(((targets >= 0) & (targets <= 1)).all()):
            found.append((f"logits ±{MARGIN:g} toward the targets", (2 * targets.to(out.dtype) - 1) * MARGIN))
        return found
    if targets.dtype not in (torch.int64, torch.int32) or out.dim() < 2:
        return []
    # class ids: the class dimension is 1 (cross_entropy's layout) or the last (a language model's (B, T, V))
    for dim in dict.fromkeys((1, out.dim() - 1)):
        classes = out.shape[dim]
        if classes > 1 and targets.shape == out.shape[:dim] + out.shape[dim + 1:]:
            valid = (targets >= 0) & (targets < classes)  # ignore_index (-100) and padding ids: any class will do
            hot = torch.nn.functional.one_hot(torch.where(valid, targets, 0).long(), classes).movedim(-1, dim)
            return [(f"the target class {'at 1' if probability else f'ahead by {MARGIN:g}'}", hot.to(out.dtype) * scale)]
    return []
