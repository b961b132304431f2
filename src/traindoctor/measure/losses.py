"""What the loss functions receive: the producer of their input in the autograd graph,
whether the input looks like logits, probabilities or log-probabilities, target shapes,
masks and scales. Called by the recorder on a sample of loss calls (never every call).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from .records import ColumnScales, LossObservation
from .stats import batch_tensors, feature_scale

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
                "ReluBackward0": (0.0, math.inf), "HardsigmoidBackward0": (0.0, 1.0), "HardtanhBackward0": (-1.0, 1.0),
                "SoftsignBackward0": (-1.0, 1.0)}
_TOL = 1e-3
# Ops whose bounds are their arguments: the autograd node's attributes that hold them (lower, upper).
_CLIPS = {"HardtanhBackward0": ("_saved_min_val", "_saved_max_val"), "ClampBackward1": ("_saved_min", "_saved_max"),
          "ClampBackward0": ("_saved_min", "_saved_max")}
_MAX_ROWS = 4096
_SCALE_COLUMNS = 64  # target columns whose scale is kept, largest first


def producer(t: torch.Tensor) -> str | None:
    """Name of the autograd op that produced `t`, looking through reshapes and copies."""
    node = _producing(t.grad_fn)
    return type(node).__name__ if node is not None else None


def _producing(node: Any) -> Any:
    for _ in range(32):
        if node is None or type(node).__name__ not in _PASS_THROUGH:
            return node
        node = next((n for n, _ in node.next_functions if n is not None), None)
    return None


def bounds(name: str, inp: torch.Tensor) -> dict[str, Any] | None:
    """For a loss that expects logits (cross_entropy, BCE with logits; nll_loss fed a log_softmax, through it),
    the range of the op that made them when it is bounded (a sigmoid, a tanh, a clamp...): {op, low, high,
    classes, binary}."""
    node = _producing(inp.grad_fn)
    if name == "nll_loss" and node is not None and type(node).__name__ == "LogSoftmaxBackward0":
        node = _producing(next((n for n, _ in node.next_functions if n is not None), None))
    elif name == "nll_loss":
        return None
    if node is None:
        return None
    op = type(node).__name__
    low, high = (_clipped(node, op) if op in _CLIPS else OUTPUT_RANGE.get(op)) or (-math.inf, math.inf)
    if not (math.isfinite(low) and math.isfinite(high)):  # a ReLU, a one-sided clamp: no bound above
        return None
    if name not in CLASSIFICATION:  # one logit per binary target
        return {"op": op, "low": low, "high": high, "classes": 2, "binary": True}
    return {"op": op, "low": low, "high": high, "classes": int(inp.shape[1] if inp.dim() >= 2 else inp.shape[0])}


def _clipped(node: Any, op: str) -> tuple[float, float] | None:
    """A clamp's or hardtanh's own bounds, as its autograd node saved them (infinite on an open side); None
    when they cannot be read (freed after a backward) or vary by element."""
    try:
        low, high = (getattr(node, a) for a in _CLIPS[op])
    except (AttributeError, RuntimeError):
        return None
    if any(isinstance(v, torch.Tensor) and v.numel() != 1 for v in (low, high)):
        return None
    return (-math.inf if low is None else float(low), math.inf if high is None else float(high))


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


def observe_call(name: str, bound: dict[str, Any], batch: tuple[Any, tuple, dict] | None = None) -> LossObservation | None:
    """What one loss call received, measured (judge/loss.py decides what it means): the op that made
    the input; for classification losses whether the scores look like probabilities, log-probabilities
    or logits and how many targets equal ignore_index; for BCE-with-logits the input's range; for
    regression and binary losses the shape the input and target broadcast to; for regression targets
    the scale of each column; for binary losses, and for regression losses whose prediction an op bounds
    (a sigmoid, a tanh, a ReLU), the share of targets outside what the prediction can reach; for
    classification losses with integer targets, the padding of the model's inputs of this step
    (`batch`: the latest training call, (model, args, kwargs)) the loss counts (`padding`)."""
    inp, target = bound.get("input"), bound.get("target")
    if not isinstance(inp, torch.Tensor) or not isinstance(target, torch.Tensor):
        return None
    out = LossObservation(loss=name, producer=producer(inp))
    if name in CLASSIFICATION + ("binary_cross_entropy_with_logits",) and (bounded := bounds(name, inp)):
        out["bounds"] = bounded
    if name in CLASSIFICATION:
        out["scores"] = score_kind(inp)
        if not target.is_floating_point():
            ignore = bound.get("ignore_index", -100)
            out["ignored"] = {"ignore_index": ignore, "ignored": int((target == ignore).sum()), "targets": target.numel()}
            if found := padding(bound, batch):
                out["padding"] = found
            weight = bound.get("weight")
            if isinstance(weight, torch.Tensor) and weight.dim() == 1 and weight.numel() >= 2:
                t = target.detach().reshape(-1)
                t = t[(t >= 0) & (t < weight.numel())]  # not ignore_index
                out["class_weights"] = {"weights": weight.detach().float().tolist(),
                                        "counts": torch.bincount(t, minlength=weight.numel()).tolist()}
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


_REDUCTION_MEAN = 1  # at::Reduction::Mean


def averaged_terms(loss: torch.Tensor) -> int | None:
    """How many terms the loss averages, read from its top autograd node (`.mean()`, or a torch loss with
    reduction="mean": one term per target); None for anything else or when unknown. A mean's gradient is
    that of the sum divided by this count: what a rate tuned for the sum needs to be multiplied by."""
    node = loss.grad_fn
    try:
        if type(node).__name__ == "MeanBackward0":
            return int(node._saved_self_sym_numel)
        if getattr(node, "_saved_reduction", None) == _REDUCTION_MEAN and isinstance(getattr(node, "_saved_target", None), torch.Tensor):
            return node._saved_target.numel()
    except (AttributeError, RuntimeError):
        pass
    return None


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


# ── padding counted by a classification loss ─────────────────────────────────
_TOKEN_DTYPES = (torch.int64, torch.int32, torch.int16, torch.bool)  # token ids and attention masks
_MIN_SEQ = 4  # positions a line needs before a run at its edge can be told from its content
_MAX_PADDING_NUMEL = 1 << 22


def padding(bound: dict[str, Any], batch: tuple[Any, tuple, dict] | None) -> list[dict[str, Any]]:
    """Where the model's integer inputs of this step (token ids, attention masks) are padded, and what
    the loss makes of those positions. The padding value is read from the data, never assumed: in each
    line of an input (a row, or a column for sequence-first layouts; from the end, or from the start
    for left padding), the run of the value commonest at that edge that reaches the edge without
    filling the line. The targets are laid over the input when they have as many elements (or one
    position fewer per line: a next-token shift made inside the model). Each candidate gives the runs'
    extent, the share of the targets at run positions that hold one value, and the share of the
    targets the loss counts (not ignore_index, weight not 0) that are that value at run positions;
    judge/loss.py decides. A reduction='none' call is skipped: the caller may mask what it returns."""
    target = bound.get("target")
    if batch is None or not isinstance(target, torch.Tensor) or target.dtype not in _TOKEN_DTYPES[:3]:
        return []
    if bound.get("reduction", "mean") == "none" or not 0 < target.numel() <= _MAX_PADDING_NUMEL:
        return []
    target = target.detach()
    counted = _counted(target, bound)
    found = []
    for name, x in batch_tensors(*batch[1:]):
        if (x.dtype not in _TOKEN_DTYPES or x.dim() != 2 or x.layout != torch.strided or x.device != target.device
                or x.numel() > _MAX_PADDING_NUMEL or _same(x, target)):
            continue
        for seq_dim in (1, 0):
            lines = _as_lines(x.detach(), target, counted, seq_dim)
            for edge in ("end", "start") if lines else ():
                seen = _edge_run(*(t.flip(1) if edge == "start" else t for t in lines))
                if seen:
                    found.append({"tensor": name, "seq_dim": seq_dim, "edge": edge, **seen})
    return found


def _as_lines(x: torch.Tensor, target: torch.Tensor, counted: torch.Tensor,
              seq_dim: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None:
    """The input, its targets and which of them count, as (sequences, positions), sequences along
    `seq_dim` of the input; None when the targets do not lie over the input."""
    lines = x if seq_dim == 1 else x.T
    if target.numel() == lines.shape[0] * (lines.shape[1] - 1):
        lines = lines[:, :-1]  # targets of positions 0..L-2: the next tokens, shifted inside the model
    elif target.numel() != lines.numel():
        return None
    layout = lines.shape if seq_dim == 1 else lines.T.shape  # the targets in the input's own layout
    on_lines, kept = target.reshape(layout), counted.reshape(layout)
    return (lines, on_lines, kept) if seq_dim == 1 else (lines, on_lines.T, kept.T)


def _counted(target: torch.Tensor, bound: dict[str, Any]) -> torch.Tensor:
    """The targets a classification loss counts: not ignore_index, and of a class whose weight is not 0."""
    counted = target != bound.get("ignore_index", -100)
    weight = bound.get("weight")
    if isinstance(weight, torch.Tensor) and weight.dim() == 1 and weight.numel():
        w = weight.detach().to(target.device)
        inside = (target >= 0) & (target < w.numel())
        counted &= inside & (w[target.clamp(0, w.numel() - 1)] != 0)
    return counted


def _same(x: torch.Tensor, target: torch.Tensor) -> bool:
    """The input is the target itself (labels passed to the model): its runs say nothing about padding."""
    return x.numel() == target.numel() and bool((x.reshape(-1).to(target.dtype) == target.reshape(-1)).all())


def _edge_run(lines: torch.Tensor, targets: torch.Tensor, counted: torch.Tensor) -> dict[str, Any] | None:
    """The run of one value at the end of each line (lines: (n, L)), and the targets at its positions."""
    n, length = lines.shape
    if length < _MIN_SEQ or n < 2:
        return None
    values, counts = lines[:, -1].unique(return_counts=True)
    pad = values[counts.argmax()]
    run = (lines == pad).flip(1).int().cumprod(1).flip(1).bool()  # the positions of the run reaching the end
    run &= (run.sum(1) < length).unsqueeze(1)  # a line that is all one value is no padded sequence
    runs = run.sum(1)
    padded = int((runs > 0).sum())
    if padded < 2:
        return None
    at_run = targets[run]
    held, share = at_run.unique(return_counts=True)
    value = held[share.argmax()]
    at_padding = int((run & (targets == value) & counted).sum())
    n_counted = int(counted.sum())
    return {"pad_value": int(pad), "lines": n, "padded_lines": padded, "mean_run": float(runs[runs > 0].float().mean()),
            "length": length, "target_value": int(value), "agreement": float(share.max()) / at_run.numel(),
            "at_padding": at_padding, "counted": n_counted, "counted_share": at_padding / n_counted if n_counted else 0.0}


# ── regression losses written by hand ────────────────────────────────────────
# Nodes between the scalar given to backward() and the error terms of a loss written by hand:
# reductions, sums of terms, constant or mask factors, the root of a mean square, a piecewise (Huber) choice.
_ERROR_TOP = {"MeanBackward0", "MeanBackward1", "SumBackward0", "SumBackward1", "AddBackward0", "AddBackward1",
              "NegBackward0", "MulBackward0", "DivBackward0", "SqrtBackward0", "WhereBackward0", "StackBackward0",
              "CatBackward0"} | _PASS_THROUGH
_TOP_NODES = 64  # the error terms of a loss sit at the top of its graph: the walk never enters the model
_ROUNDING_ULPS = 4  # a target rebuilt as prediction - residual is off by a few roundings of their magnitude


def bounded_residuals(loss: torch.Tensor) -> list[LossObservation]:
    """Regression losses written by hand (`((pred - y) ** 2).mean()`, `(y - pred).abs().sum()`) whose
    prediction an op bounds (OUTPUT_RANGE): the targets, and the share outside what the prediction can
    reach. Read from the top of the autograd graph: a square or absolute value of a difference of which
    one side is made by the bounded op and the other has no graph (the target). A subtraction saves no
    values, so the targets are rebuilt from what its neighbours saved: the squared (or absolute)
    residual and the op's output, target = prediction - residual. Empty when the graph cannot be read
    (saved values freed); this only annotates the record."""
    try:
        return _bounded_residuals(loss)
    except (AttributeError, RuntimeError):
        return []


def _bounded_residuals(loss: torch.Tensor) -> list[LossObservation]:
    found: list[LossObservation] = []
    todo, seen = [loss.grad_fn], set()
    while todo and len(seen) < _TOP_NODES:
        node = todo.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        name, inputs = type(node).__name__, [n for n, _ in node.next_functions]
        squared = name == "PowBackward0" and getattr(node, "_saved_exponent", None) == 2
        squared |= name == "MulBackward0" and len(inputs) == 2 and inputs[0] is not None and inputs[0] is inputs[1]
        if squared or name == "AbsBackward0":
            seen_here = _residual_target(node._saved_self, inputs[0], "squared" if squared else "absolute")
            found += [seen_here] if seen_here else []
        elif name in _ERROR_TOP:
            todo += inputs
    return found


def _residual_target(residual: torch.Tensor, node: Any, kind: str) -> LossObservation | None:
    """The targets of `residual` = prediction - target (or target - prediction) when the prediction is
    made by a bounded op and the target has no graph."""
    node = _through(node)
    if type(node).__name__ not in ("SubBackward0",):
        return None
    sides = [n for n, _ in node.next_functions]
    if len(sides) != 2 or (sides[0] is None) == (sides[1] is None):
        return None  # both sides have a graph (or neither): no side is a target
    pred_side = 0 if sides[0] is not None else 1
    made_by = _through(sides[pred_side])
    op = type(made_by).__name__
    result = getattr(made_by, "_saved_result", None)
    alpha = float(getattr(node, "_saved_alpha", 1) or 0)
    if op not in OUTPUT_RANGE or not isinstance(result, torch.Tensor) or alpha == 0:
        return None
    r = residual.detach().float()
    pred = result.detach().float()
    if pred.numel() == r.numel():
        pred = pred.reshape(r.shape)
    else:
        try:
            pred = pred.broadcast_to(r.shape)
        except RuntimeError:
            return None
    target = (pred - r) / alpha if pred_side == 0 else r + alpha * pred
    if not target.numel() or not bool(torch.isfinite(target).all()):
        return None
    low, high = OUTPUT_RANGE[op]
    # the rounding of the residual and of its rebuilding, in the precision they were computed in (half under autocast)
    eps = max(torch.finfo(residual.dtype).eps, torch.finfo(result.dtype).eps, torch.finfo(torch.float32).eps)
    tol = _ROUNDING_ULPS * eps * (1 + pred.abs() + r.abs())
    outside = (target < low - tol) | (target > high + tol)
    written = "(prediction - target) ** 2" if kind == "squared" else "|prediction - target|"
    return LossObservation(loss=f"{kind} error written by hand", producer=op, residual=written, target_outside={
        "low": low, "high": high, "share": float(outside.float().mean()), "min": float(target.min()),
        "max": float(target.max())})


def _through(node: Any) -> Any:
    """The first node below `node` that changes values (reshapes and copies looked through)."""
    for _ in range(32):
        if node is None or type(node).__name__ not in _PASS_THROUGH:
            return node
        node = next((n for n, _ in node.next_functions if n is not None), None)
    return None


# ── classification losses reduced by hand ────────────────────────────────────
_NLL_NODES = {"NllLossBackward0", "NllLoss2DBackward0"}
_REDUCTION_NONE = 0  # at::Reduction::None
# Nodes that reduce per-position losses without choosing among them: a mask multiplied in, or an
# index that picks positions, is not among them.
_UNMASKED = {"MeanBackward0", "MeanBackward1", "SumBackward0", "SumBackward1", "AddBackward0", "AddBackward1",
             "NegBackward0", "ViewBackward0", "ReshapeAliasBackward0", "UnsafeViewBackward0", "TransposeBackward0",
             "PermuteBackward0", "UnsqueezeBackward0", "SqueezeBackward0", "SqueezeBackward1", "CloneBackward0",
             "ToCopyBackward0", "ContiguousBackward0"}


def unmasked_token_losses(loss: torch.Tensor, batch: tuple[Any, tuple, dict] | None) -> list[LossObservation]:
    """Cross-entropy / NLL computed with reduction='none' and then reduced by hand with no mask
    (`F.cross_entropy(..., reduction='none').mean()`): every position counts, as with the default
    reduction, so the padding measurement of `padding` applies to the targets the loss node saved.
    Read from the top of the graph through sums, means, reshapes and constant factors; a factor that
    is a tensor (a mask, per-position weights) or an index stops the walk: those choose positions.
    Empty when the graph cannot be read; this only annotates the record."""
    try:
        return _unmasked_token_losses(loss, batch)
    except (AttributeError, RuntimeError):
        return []


def _unmasked_token_losses(loss: torch.Tensor, batch: tuple[Any, tuple, dict] | None) -> list[LossObservation]:
    found: list[LossObservation] = []
    todo, seen = [loss.grad_fn], 0
    while todo and seen < _TOP_NODES:
        node = todo.pop()
        seen += 1
        name = type(node).__name__ if node is not None else ""
        inputs = [n for n, _ in node.next_functions] if node is not None else []
        if name in _NLL_NODES and node._saved_reduction == _REDUCTION_NONE:
            found += _token_padding(node, batch)
        elif name in _UNMASKED:
            todo += inputs
        elif name in ("MulBackward0", "DivBackward0") and len(inputs) == 2 and inputs[1] is None:
            if _constant_sign(node, "_saved_other") is not None:  # a constant factor: (x / n), (0.5 * x)
                todo.append(inputs[0])
    return found


def _token_padding(node: Any, batch: tuple[Any, tuple, dict] | None) -> list[LossObservation]:
    target = node._saved_target
    ignore = node._saved_ignore_index
    ignore = ignore - (1 << 64) if ignore >= 1 << 63 else ignore  # saved as an unsigned 64-bit integer
    bound = {"target": target, "ignore_index": ignore, "weight": node._saved_weight}
    found = padding(bound, batch)
    if not found:
        return []
    ignored = {"ignore_index": ignore, "ignored": int((target == ignore).sum()), "targets": target.numel()}
    return [LossObservation(loss="cross_entropy / nll_loss", producer=None, reduction="none", ignored=ignored,
                            padding=found)]


def hand_written(loss: torch.Tensor, batch: tuple[Any, tuple, dict] | None) -> list[LossObservation]:
    """What the top of a sampled loss graph shows about losses written or reduced by hand: bounded
    predictions regressed on targets out of their reach, and per-position classification losses
    reduced with no mask (the model's latest training call, `batch`, gives the inputs' padding)."""
    return bounded_residuals(loss) + unmasked_token_losses(loss, batch)


def target_scale(name: str, target: torch.Tensor) -> torch.Tensor | None:
    """The scale a regression loss is measured in, from its target: the mean square for an MSE, the mean absolute
    value for the losses linear in the error. Read for targets a model made in the step (a bootstrapped value, a
    teacher's outputs): they grow and shrink with that model, and the loss with them (judge/steps/base.py)."""
    if not target.is_floating_point() or not target.numel():
        return None
    t = target.float()
    return t.pow(2).mean() if name == "mse_loss" else t.abs().mean()
