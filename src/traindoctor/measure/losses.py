"""What the loss functions receive: the producer of their input in the autograd graph,
whether the input looks like logits, probabilities or log-probabilities, target shapes,
masks and scales. Called by the recorder on a sample of loss calls (never every call).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from .records import ColumnScales, LossObservation
from .stats import feature_scale

CLASSIFICATION = ("cross_entropy", "nll_loss")
BINARY = ("binary_cross_entropy_with_logits", "binary_cross_entropy")
REGRESSION = ("mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss")
LOSS_FUNCTIONS = CLASSIFICATION + BINARY + REGRESSION

# Autograd nodes that move or copy values without changing them.
_PASS_THROUGH = {
    "ViewBackward0", "ReshapeAliasBackward0", "UnsafeViewBackward0", "TransposeBackward0", "TransposeBackward1",
    "PermuteBackward0", "SqueezeBackward0", "SqueezeBackward1", "SqueezeBackward2", "SqueezeBackward3",
    "UnsqueezeBackward0", "CloneBackward0", "ToCopyBackward0", "SliceBackward0", "SelectBackward0",
    "AliasBackward0", "IndexBackward0", "ExpandBackward0", "ContiguousBackward0",
}
# The range of values an op can output, for ops that bound the prediction a regression loss receives.
OUTPUT_RANGE = {"SigmoidBackward0": (0.0, 1.0), "TanhBackward0": (-1.0, 1.0), "SoftmaxBackward0": (0.0, 1.0),
                "ReluBackward0": (0.0, math.inf), "HardsigmoidBackward0": (0.0, 1.0), "HardtanhBackward0": (-1.0, 1.0)}
_TOL = 1e-3
_MAX_ROWS = 4096
_SCALE_COLUMNS = 64  # target columns whose scale is kept, largest first


def producer(t: torch.Tensor) -> str | None:
    """Name of the autograd op that produced `t`, looking through reshapes and copies."""
    node = t.grad_fn
    for _ in range(32):
        if node is None:
            return None
        name = type(node).__name__
        if name not in _PASS_THROUGH:
            return name
        node = next((n for n, _ in node.next_functions if n is not None), None)
    return None


def _class_rows(x: torch.Tensor) -> torch.Tensor:
    """(N, C) rows of class scores, class dim = 1 as torch's classification losses expect."""
    x = x.detach().float()
    rows = x.movedim(1, -1).reshape(-1, x.shape[1]) if x.dim() >= 2 else x.reshape(1, -1)
    return rows[:_MAX_ROWS]


def score_kind(x: torch.Tensor) -> dict[str, Any]:
    """Measure whether class scores are probabilities, log-probabilities or logits."""
    rows = _class_rows(x)
    rows = rows[torch.isfinite(rows).all(1)]
    if rows.numel() == 0:
        return {"kind": "nonfinite"}
    lo, hi = float(rows.min()), float(rows.max())
    row_sum = rows.sum(1)
    lse = torch.logsumexp(rows, 1)
    out = {"min": lo, "max": hi, "row_sum_mean": float(row_sum.mean()), "logsumexp_mean": float(lse.mean())}
    if lo >= -1e-6 and hi <= 1 + 1e-6 and float((row_sum - 1).abs().max()) < _TOL:
        out["kind"] = "probabilities"
    elif hi <= 1e-6 and float(lse.abs().max()) < _TOL:
        out["kind"] = "log-probabilities"
    else:
        out["kind"] = "logits"
    return out


def _broadcast(inp: torch.Tensor, target: torch.Tensor) -> dict[str, Any] | None:
    if inp.shape == target.shape:
        return None
    try:
        shape = torch.broadcast_shapes(inp.shape, target.shape)
    except RuntimeError:
        return None
    if math.prod(shape) > max(inp.numel(), target.numel()):
        return {"input_shape": list(inp.shape), "target_shape": list(target.shape), "broadcast_shape": list(shape)}
    return None


def observe_call(name: str, bound: dict[str, Any]) -> LossObservation | None:
    """What one loss call received, measured (judge/loss.py decides what it means): the op that made
    the input; for classification losses whether the scores look like probabilities, log-probabilities
    or logits and how many targets equal ignore_index; for BCE-with-logits the input's range; for
    regression and binary losses the shape the input and target broadcast to; for regression targets
    the scale of each column; for binary losses, and for regression losses whose prediction an op bounds
    (a sigmoid, a tanh, a ReLU), the share of targets outside what the prediction can reach."""
    inp, target = bound.get("input"), bound.get("target")
    if not isinstance(inp, torch.Tensor) or not isinstance(target, torch.Tensor):
        return None
    out = LossObservation(loss=name, producer=producer(inp))
    if name in CLASSIFICATION:
        out["scores"] = score_kind(inp)
        if not target.is_floating_point():
            ignore = bound.get("ignore_index", -100)
            out["ignored"] = {"ignore_index": ignore, "ignored": int((target == ignore).sum()), "targets": target.numel()}
    elif name == "binary_cross_entropy_with_logits":
        x = inp.detach()
        out["range"] = {"min": float(x.min()), "max": float(x.max())} if x.numel() else None
    if name in BINARY + REGRESSION:
        out["broadcast"] = _broadcast(inp, target)
    if name in BINARY and target.numel():
        t = target.detach().float()
        out["target_outside"] = {"low": 0.0, "high": 1.0, "share": float(((t < 0) | (t > 1)).float().mean()),
                                 "min": float(t.min()), "max": float(t.max())}
    if name in REGRESSION and out["producer"] in OUTPUT_RANGE and target.is_floating_point() and target.numel():
        low, high = OUTPUT_RANGE[out["producer"]]  # what the op that made the prediction can output
        t = target.detach().float()
        out["target_outside"] = {"low": low, "high": high, "share": float(((t < low) | (t > high)).float().mean()),
                                 "min": float(t.min()), "max": float(t.max())}
    if name in REGRESSION and target.is_floating_point() and target.numel() > 1:
        mean, std = feature_scale(target.reshape(-1, 1) if target.dim() < 2 else target, -1)
        scale = torch.maximum(mean.abs(), std)
        order = scale.argsort(descending=True)[:_SCALE_COLUMNS].tolist()  # the largest columns, largest first
        out["target_scale"] = ColumnScales(columns=order, scale=[float(scale[i]) for i in order],
                                           mean=[float(mean[i]) for i in order], std=[float(std[i]) for i in order],
                                           n_features=int(scale.numel()))
    return out


def chance_level(name: str, bound: dict[str, Any]) -> dict[str, Any] | None:
    """Loss of an uninformed model for this call: ln C, ln 2, or the target's variance."""
    inp, target = bound.get("input"), bound.get("target")
    if not isinstance(inp, torch.Tensor) or not isinstance(target, torch.Tensor):
        return None
    if name == "cross_entropy" and bound.get("reduction", "mean") == "mean":
        n_classes = inp.shape[1] if inp.dim() >= 2 else inp.shape[0]
        return {"chance": math.log(n_classes), "basis": f"ln({n_classes}) for {n_classes} classes"}
    if name in BINARY and bound.get("reduction", "mean") == "mean":
        return {"chance": math.log(2), "basis": "ln(2) for binary targets"}
    if name == "mse_loss" and bound.get("reduction", "mean") == "mean" and target.is_floating_point():
        t = target.detach().float()
        return {"chance": float(t.var()) if t.numel() > 1 else 0.0, "basis": "variance of the target",
                "zero_prediction": float((t * t).mean())}
    return None


# Nodes a sum of loss terms passes through on its way to the scalar that backward() receives.
_ADDITIVE = {"AddBackward0", "AddBackward1", "SubBackward0", "SubBackward1", "NegBackward0"}
_SUMS = {"SumBackward0", "SumBackward1"}
_REDUCTION_SUM = 2  # at::Reduction::Sum, as loss nodes save their `reduction`
_MAX_NODES = 4096


def summed_terms(loss: torch.Tensor) -> int | None:
    """How many terms the loss adds up, read from the top of its autograd graph; None when unknown.

    `torch.stack(per_step).sum()`, `(logp * adv).sum()`, Python's `sum(list)` and losses with
    reduction="sum" grow with the number of terms (e.g. a REINFORCE episode that gets longer as the
    agent learns); a mean does not (1 term). Only additions are looked through, so a term's own
    graph is never entered. The nodes' saved values are private to torch and freed after a backward:
    a graph they cannot be read from is unknown, never an error (this only annotates the record).
    """
    try:
        return _summed_terms(loss)
    except (AttributeError, RuntimeError):
        return None


def _summed_terms(loss: torch.Tensor) -> int | None:
    terms, todo, seen = 0, [loss.grad_fn], 0
    while todo and seen < _MAX_NODES:
        node = todo.pop()
        seen += 1
        name = type(node).__name__ if node is not None else ""
        if name in _ADDITIVE:
            todo.extend(n for n, _ in node.next_functions if n is not None)
        elif name in _SUMS:
            terms += math.prod(node._saved_self_sym_sizes)
        elif getattr(node, "_saved_reduction", None) == _REDUCTION_SUM and isinstance(getattr(node, "_saved_target", None), torch.Tensor):
            terms += node._saved_target.numel()  # one term per target: (N, C) scores for N class labels are N terms
        else:
            terms += 1
    return terms if not todo else None


# Autograd nodes of torch's loss functions: where a loss function's value enters the graph.
LOSS_NODES = {
    "NllLossBackward0", "NllLoss2DBackward0", "MseLossBackward0", "L1LossBackward0", "SmoothL1LossBackward0",
    "HuberLossBackward0", "BinaryCrossEntropyBackward0", "BinaryCrossEntropyWithLogitsBackward0", "KlDivBackward0",
    "SoftMarginLossBackward0", "MultiMarginLossBackward0", "MultilabelMarginLossBackward0",
}
_SIGN_KEEPING = {"AddBackward0", "AddBackward1", "SumBackward0", "SumBackward1", "MeanBackward0", "MeanBackward1",
                 "StackBackward0", "CatBackward0", "CloneBackward0", "ViewBackward0", "UnsqueezeBackward0",
                 "SqueezeBackward0", "ToCopyBackward0"}


def loss_signs(loss: torch.Tensor) -> list[tuple[str, int]] | None:
    """The torch loss functions whose value the scalar given to backward() adds up, each with the sign
    it enters with (+1, or -1 when the optimizer would *raise* that loss function's value), read from
    the top of the autograd graph through additions, negations and multiplications by constants. A
    loss function reached through anything else (a learned weight, a log) is not listed: its sign is
    unknown. None when the graph cannot be read (saved values freed)."""
    try:
        return _loss_signs(loss)
    except (AttributeError, RuntimeError):
        return None


def _constant_sign(node: Any, which: str) -> int | None:
    """The sign of the constant factor a Mul/Div node saved, or None when it is not a constant."""
    factor = getattr(node, which, None)
    if isinstance(factor, torch.Tensor) and factor.numel() == 1 and not factor.requires_grad:
        value = float(factor)
        return 1 if value > 0 else -1 if value < 0 else None
    if isinstance(factor, (int, float)) and factor:
        return 1 if factor > 0 else -1
    return None


def _loss_signs(loss: torch.Tensor) -> list[tuple[str, int]]:
    found: list[tuple[str, int]] = []
    todo, seen = [(loss.grad_fn, 1)], 0
    while todo and seen < _MAX_NODES:
        node, sign = todo.pop()
        seen += 1
        if node is None:
            continue
        name = type(node).__name__
        inputs = [n for n, _ in node.next_functions]
        if name in LOSS_NODES:
            found.append((name, sign))
        elif name in _SIGN_KEEPING:
            alpha = getattr(node, "_saved_alpha", 1)
            todo += [(n, sign if i == 0 or (alpha or 1) > 0 else -sign) for i, n in enumerate(inputs)]
        elif name == "NegBackward0":
            todo += [(n, -sign) for n in inputs]
        elif name in ("SubBackward0", "SubBackward1"):  # a - alpha * b
            alpha = getattr(node, "_saved_alpha", 1) or 1
            todo += [(n, sign if i == 0 else (-sign if alpha > 0 else sign)) for i, n in enumerate(inputs)]
        elif name == "RsubBackward1":  # scalar - alpha * x
            todo += [(n, -sign) for n in inputs]
        elif name in ("MulBackward0", "DivBackward0") and len(inputs) == 2:
            if inputs[1] is None:  # x * c, x / c
                factor = _constant_sign(node, "_saved_other")
                if factor is not None:
                    todo.append((inputs[0], sign * factor))
            elif inputs[0] is None and name == "MulBackward0":  # c * x
                factor = _constant_sign(node, "_saved_self")
                if factor is not None:
                    todo.append((inputs[1], sign * factor))
    return found
