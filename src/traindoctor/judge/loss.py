"""What the loss receives: scores, targets, masks, shapes, and the first loss against chance."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from torch import nn

from ..vocabulary.finding import Finding, finding
from ..measure.recorder import Recorder
from ..measure.records import LossObservation
from ..vocabulary.numbers import fmt
from .common import modules_of_type, where
from .numerics import why_not_learning
from .thresholds import (CLASS_MIN_LABELS, WEIGHT_FOLLOWS, WEIGHT_IMBALANCE, INIT_LOSS_HIGH, INIT_LOSS_LOW, INIT_LOSS_MARGIN, LOGIT_FLOOR, LOG_PROB_MAX, MIN_STEPS, MSE_INIT_HIGH,
                         MSE_INIT_LOW, PADDING_AGREEMENT, PADDING_DOMINANT, PADDING_MIN_RUN, PADDING_SHARE,
                         UNNORMALIZED_SCALE, UNREACHABLE_TARGETS)

BOUNDED_GRADIENT = ("l1_loss", "smooth_l1_loss", "huber_loss")  # |d loss / d output| <= 1 per element

# Ops whose output is clipped flat below a point: logits made by them lose every gradient there.
TRUNCATING = {"ReluBackward0", "HardtanhBackward0", "ThresholdBackward0", "Relu6Backward0"}
# How a finding names the op that made a loss's input.
_OPS = {"SigmoidBackward0": "a sigmoid", "TanhBackward0": "a tanh", "SoftmaxBackward0": "a softmax",
        "ReluBackward0": "a ReLU", "HardsigmoidBackward0": "a hard sigmoid", "HardtanhBackward0": "a hardtanh/ReLU6",
        "ThresholdBackward0": "a threshold", "Relu6Backward0": "a ReLU6", "ClampBackward0": "a clamp",
        "ClampBackward1": "a clamp", "SoftsignBackward0": "a softsign"}


def flags(observations: list[LossObservation]) -> dict[str, list[dict[str, Any]]]:
    """What each observed loss call means: {code: [evidence, ...]} in call order. Cross-entropy fed
    probabilities (made by a softmax, or rows in [0, 1] summing to 1) is a double softmax; fed
    log-probabilities it is redundant (info); nll_loss fed values above LOG_PROB_MAX was given
    something other than log-probabilities; a with-logits loss fed a sigmoid's output squashes twice;
    a binary cross-entropy's targets outside [0, 1] are outside its domain; a regression prediction
    bounded by its last op cannot reach targets outside that bound (a loss written by hand too: its
    targets are rebuilt from the residual); logits clipped by a ReLU lose their gradient wherever they
    are clipped; padding of the model's inputs whose targets the loss counts is padding-in-loss."""
    out: dict[str, list[dict[str, Any]]] = {}
    for seen in observations:
        name, made_by = seen["loss"], seen["producer"]
        base = {"loss": name, "producer": made_by, "step": seen["step"], "location": seen["location"],
                **{k: seen[k] for k in ("residual", "reduction") if k in seen}}  # losses written or reduced by hand

        def flag(code: str, **evidence: Any) -> None:
            out.setdefault(code, []).append({**base, **evidence})

        kind = seen.get("scores") or {}
        twice = False  # squashed by the softmax or sigmoid the loss applies itself: named as such
        if name == "cross_entropy" and (made_by == "SoftmaxBackward0" or kind.get("kind") == "probabilities"):
            flag("double-softmax", **kind)
            twice = True
        elif name == "cross_entropy" and (made_by == "LogSoftmaxBackward0" or kind.get("kind") == "log-probabilities"):
            flag("double-softmax", severity="info", **kind)
        if name == "nll_loss" and kind.get("max", 0.0) > LOG_PROB_MAX:
            flag("nll-without-log-softmax", **kind)
        ignored = seen.get("ignored")
        if ignored and ignored["targets"] and ignored["ignored"] == ignored["targets"]:
            flag("labels-all-ignored", ignore_index=ignored["ignore_index"], targets=ignored["targets"])
        if pad := _counted_padding(seen.get("padding") or []):
            flag("padding-in-loss", ignore_index=ignored["ignore_index"] if ignored else -100, **pad)
        if made_by == "SigmoidBackward0" and seen.get("range"):
            flag("double-sigmoid", **seen["range"])
            twice = True
        if seen.get("broadcast"):
            flag("broadcast-loss", **seen["broadcast"])
        outside = seen.get("target_outside")
        if outside and outside["share"] > 0 and name.startswith("binary_cross_entropy"):
            flag("target-out-of-range", **outside)
        elif outside and outside["share"] > UNREACHABLE_TARGETS:
            flag("output-range-mismatch", **outside)
        if made_by in TRUNCATING and name in ("cross_entropy", "binary_cross_entropy_with_logits"):
            flag("activation-on-logits", **kind)
        elif (floor := logit_floor(seen.get("bounds"))) and not twice:
            flag("activation-on-logits", **kind, **seen["bounds"], **floor)
        scale = seen.get("target_scale")
        if scale:
            bad = [i for i, v in enumerate(scale["scale"]) if v > UNNORMALIZED_SCALE][:8]
            if bad:
                flag("unnormalized-targets", columns=[scale["columns"][i] for i in bad],
                     mean=[scale["mean"][i] for i in bad], std=[scale["std"][i] for i in bad])
    return out


def logit_floor(bounds: dict[str, Any] | None) -> dict[str, float] | None:
    """The least loss logits in [low, high] allow, when it is LOGIT_FLOOR of chance or more: {floor, chance}.
    With C classes the best case puts the target's logit at high and every other at low; a binary
    with-logits loss (C = 2, one logit) is held at softplus(-high) for a positive and softplus(low) for a
    negative target, and the lesser of the two is the floor whatever the targets."""
    if not bounds:
        return None
    low, high, classes = bounds["low"], bounds["high"], bounds["classes"]
    if bounds.get("binary"):
        floor = min(math.log1p(math.exp(-high)), math.log1p(math.exp(low)))
    else:
        floor = math.log1p((classes - 1) * math.exp(-(high - low)))
    chance = math.log(classes)
    return {"floor": floor, "chance": chance} if classes >= 2 and floor >= LOGIT_FLOOR * chance else None


def _counted_padding(candidates: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The input padding whose targets the loss counts most: runs at the sequences' edge that are
    padding (PADDING_MIN_RUN long on average, their targets one value), holding PADDING_SHARE of the
    counted targets."""
    padding = [c for c in candidates if c["mean_run"] >= PADDING_MIN_RUN and c["agreement"] >= PADDING_AGREEMENT
               and c["counted_share"] >= PADDING_SHARE]
    return max(padding, key=lambda c: c["counted_share"], default=None)


def _class_weights(rec: Recorder) -> list[Finding]:
    """Class weights exist to counter an imbalance: weights that rise with the classes' frequency in the
    targets the loss receives amplify it instead (counts pooled over the sampled calls with the same weights)."""
    pooled: dict[tuple[str, tuple[float, ...]], list[int]] = {}
    for seen in rec.loss_observations:
        cw = seen.get("class_weights")
        if cw:
            key = (seen["loss"], tuple(cw["weights"]))
            counts = pooled.setdefault(key, [0] * len(cw["counts"]))
            pooled[key] = [a + b for a, b in zip(counts, cw["counts"])]
    out = []
    for (name, weights), counts in pooled.items():
        seen_classes = [c for c, n in enumerate(counts) if n > 0]
        if len(seen_classes) < 2 or sum(counts) < CLASS_MIN_LABELS or len({weights[c] for c in seen_classes}) < 2:
            continue
        f = np.array([counts[c] for c in seen_classes], dtype=float)
        w = np.array([weights[c] for c in seen_classes])
        if f.max() < WEIGHT_IMBALANCE * f.min() or _rank_correlation(w, f) < WEIGHT_FOLLOWS:
            continue
        common, rare = seen_classes[int(f.argmax())], seen_classes[int(f.argmin())]
        total = f.sum()
        out.append(finding(
            "class-weights-inverted",
            f"`{name}`'s class weights rise with how often each class occurs: class {common} holds "
            f"{fmt(100 * counts[common] / total)}% of the {int(total)} labels seen and weighs {fmt(weights[common])}, "
            f"class {rare} holds {fmt(100 * counts[rare] / total)}% and weighs {fmt(weights[rare])} — the weights "
            "amplify the imbalance they should counter", rec.source,
            evidence={"loss": name, "weights": list(weights), "counts": counts}))
    return out


def _rank_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's correlation (ties broken by position: enough to tell a rising order from a falling one)."""
    ra, rb = a.argsort().argsort().astype(float), b.argsort().argsort().astype(float)
    ra, rb = ra - ra.mean(), rb - rb.mean()
    denom = float(np.sqrt((ra ** 2).sum() * (rb ** 2).sum()))
    return float((ra * rb).sum()) / denom if denom else 0.0


def check(rec: Recorder) -> list[Finding]:
    out: list[Finding] = _class_weights(rec)
    flags_by_code = flags(rec.loss_observations)
    sampled = sum(min(n, 3) + n // 50 for n in rec.loss_calls.values())

    def first(code: str, severity: str | None = None) -> tuple[dict, int] | None:
        hits = [e for e in flags_by_code.get(code, []) if e.get("severity") == severity]
        return (hits[0], len(hits)) if hits else None

    if hit := first("double-softmax"):
        ev, n = hit
        layers = modules_of_type(rec, nn.Softmax)
        via = f"; the model has a Softmax layer `{layers[0]}`" if layers else ""
        out.append(finding(
            "double-softmax",
            f"`{ev['loss']}` received probabilities{_when(rec, ev)}: rows sum to {ev['row_sum_mean']:.3f} "
            f"and lie in [{fmt(ev['min'])}, {fmt(ev['max'])}] (made by {ev['producer'] or 'an untracked op'}){via}; "
            f"seen in {n} of {sampled} sampled loss calls",
            rec.source, evidence={**ev, "calls": n, "softmax_modules": layers}, location={**ev["location"], "module": layers[0] if layers else None},
        ))
    elif hit := first("double-softmax", "info"):
        ev, _ = hit
        out.append(finding(
            "double-softmax",
            f"`{ev['loss']}` received log-probabilities{where(ev)} (made by {ev['producer'] or 'an untracked op'}); "
            "cross_entropy applies log_softmax again, which is redundant but does not change the loss",
            rec.source, severity="info", evidence=ev, location=ev["location"],
        ))
    if hit := first("double-sigmoid"):
        ev, n = hit
        out.append(finding(
            "double-sigmoid",
            f"`{ev['loss']}` received sigmoid outputs in [{fmt(ev['min'])}, {fmt(ev['max'])}]{_when(rec, ev)}; "
            f"seen in {n} of {sampled} sampled loss calls",
            rec.source, evidence=ev, location=ev["location"],
        ))
    if hit := first("nll-without-log-softmax"):
        ev, n = hit
        out.append(finding(
            "nll-without-log-softmax",
            f"`nll_loss` received values up to {fmt(ev['max'])}{_when(rec, ev)} (log-probabilities are <= 0); "
            f"mean logsumexp over classes {fmt(ev['logsumexp_mean'])} (0 for log-probabilities); made by {ev['producer'] or 'an untracked op'}",
            rec.source, evidence={**ev, "calls": n}, location=ev["location"],
        ))
    out += _padding(rec, flags_by_code.get("padding-in-loss", []), sampled)
    if hit := first("broadcast-loss"):
        ev, n = hit
        out.append(finding(
            "broadcast-loss",
            f"`{ev['loss']}` compared input {tuple(ev['input_shape'])} with target {tuple(ev['target_shape'])}{where(ev)}: "
            f"they broadcast to {tuple(ev['broadcast_shape'])}, pairing every prediction with every target",
            rec.source, evidence={**ev, "calls": n}, location=ev["location"],
        ))
    out += _labels_ignored(rec, first("labels-all-ignored"), sampled)
    if hit := first("target-out-of-range"):
        ev, n = hit
        out.append(finding(
            "target-out-of-range",
            f"`{ev['loss']}` received targets in [{fmt(ev['min'])}, {fmt(ev['max'])}]{_when(rec, ev)}: "
            f"{ev['share']:.0%} lie outside [0, 1], where a binary cross-entropy is defined; seen in {n} of {sampled} "
            "sampled loss calls", rec.source, evidence={**ev, "calls": n}, location=ev["location"]))
    if hit := first("output-range-mismatch"):
        ev, n = hit
        made = _OPS.get(ev["producer"], ev["producer"])
        out.append(finding(
            "output-range-mismatch",
            f"{_loss_name(ev)} compared predictions made by {made}, which cannot leave [{fmt(ev['low'])}, {fmt(ev['high'])}], "
            f"with targets in [{fmt(ev['min'])}, {fmt(ev['max'])}]{_when(rec, ev)}: {ev['share']:.0%} of the targets are "
            "out of its reach", rec.source, evidence={**ev, "calls": n}, location=ev["location"]))
    if hit := first("activation-on-logits"):
        ev, n = hit
        made = _OPS.get(ev.get("op", ev["producer"]), ev.get("op", ev["producer"]))
        what = (f"they lie in [{fmt(ev['low'])}, {fmt(ev['high'])}], so the loss cannot fall below {fmt(ev['floor'])} "
                f"(chance: {fmt(ev['chance'])}) however well the model learns" if "floor" in ev else
                f"they cannot go below {fmt(ev.get('min', 0.0))}, and a logit clipped there gets no gradient")
        out.append(finding(
            "activation-on-logits",
            f"`{ev['loss']}` received logits made by {made}{_when(rec, ev)}: {what}; seen in {n} of "
            f"{sampled} sampled loss calls", rec.source, evidence={**ev, "calls": n}, location=ev["location"]))
    if hit := first("unnormalized-targets"):
        ev, _ = hit
        cols = ", ".join(f"{c} (mean {fmt(m)}, std {fmt(s)})" for c, m, s in zip(ev["columns"][:4], ev["mean"], ev["std"]))
        said = f"`{ev['loss']}` targets{where(ev)} have scale above 100 in columns {cols}"
        stuck = why_not_learning(rec)
        # Severity follows consequence: an error when the loss does not learn. The harm while it learns is
        # gradients that grow with the targets; an L1-type loss's gradient is at most 1 per element whatever
        # their scale, so there it is only the distance the output travels: information.
        bounded = ev["loss"] in BOUNDED_GRADIENT
        if bounded:
            said += f"; `{ev['loss']}`'s gradient does not grow with them"
        if stuck:
            said += f"; {stuck}"
        out.append(finding("unnormalized-targets", said, rec.source, evidence=ev, location=ev["location"],
                           severity="error" if stuck else "info" if bounded else None))
    out += _init_loss(rec)
    out += _sign(rec)
    return out


# The loss functions' autograd nodes, by the names users call them.
_LOSS_NAMES = {"NllLossBackward0": "cross_entropy / nll_loss", "NllLoss2DBackward0": "cross_entropy / nll_loss",
               "MseLossBackward0": "mse_loss", "L1LossBackward0": "l1_loss", "SmoothL1LossBackward0": "smooth_l1_loss",
               "HuberLossBackward0": "huber_loss", "BinaryCrossEntropyBackward0": "binary_cross_entropy",
               "BinaryCrossEntropyWithLogitsBackward0": "binary_cross_entropy_with_logits", "KlDivBackward0": "kl_div"}


def _sign(rec: Recorder) -> list[Finding]:
    """A loss function that enters the scalar given to backward() with a minus sign on every sampled
    backward: the optimizer raises it (gradient ascent on the loss)."""
    seen: dict[str, list[int]] = {}
    for obs in rec.loss_signs:
        for node, sign in obs["signs"]:
            seen.setdefault(node, []).append(sign)
    flipped = [n for n, signs in seen.items() if all(s < 0 for s in signs)]
    if not flipped:
        return []
    first = next(o for o in rec.loss_signs if any(n in flipped and s < 0 for n, s in o["signs"]))
    names = ", ".join(f"`{_LOSS_NAMES.get(n, n)}`" for n in flipped)
    return [finding("loss-sign-flipped", f"the scalar given to backward() contains {names} with a minus sign on all "
                    f"{len(rec.loss_signs)} sampled backward passes{where(first)}: descending it raises that loss",
                    rec.source, evidence={"loss_functions": flipped, "backward_passes": len(rec.loss_signs),
                                          "step": first["step"]}, location=first["location"])]


def _loss_name(ev: dict) -> str:
    """`mse_loss`, or what a loss written by hand computes: 'a squared error written by hand ((prediction - target) ** 2)'."""
    return f"a {ev['loss']} ({ev['residual']})" if ev.get("residual") else f"`{ev['loss']}`"


def _reduced(ev: dict) -> str:
    """`cross_entropy`, or a per-position loss averaged by hand: '`cross_entropy / nll_loss` (reduction='none', reduced with no mask)'."""
    return f"`{ev['loss']}`" + (" (reduction='none', reduced with no mask)" if ev.get("reduction") == "none" else "")


def _padding(rec: Recorder, hits: list[dict[str, Any]], sampled: int) -> list[Finding]:
    """padding-in-loss: an error once padding holds PADDING_DOMINANT of the counted targets."""
    if not hits:
        return []
    ev = hits[0]
    layout = "row" if ev["seq_dim"] == 1 else "column (sequence-first layout)"
    return [finding(
        "padding-in-loss",
        f"{_reduced(ev)} counts padding{_when(rec, ev)}: input `{ev['tensor']}` holds a run of {ev['pad_value']} reaching "
        f"the {ev['edge']} of {ev['padded_lines']} of its {ev['lines']} sequences (one per {layout}, {fmt(ev['mean_run'])} "
        f"positions long on average), the targets there are {ev['target_value']} ({ev['agreement']:.0%} of them), and "
        f"{ev['at_padding']} of the {ev['counted']} targets the loss counts ({ev['counted_share']:.0%}) are such padding "
        f"(ignore_index is {ev['ignore_index']}); seen in {len(hits)} of {sampled} sampled loss calls",
        rec.source, severity=None if ev["counted_share"] >= PADDING_DOMINANT else "warning",
        evidence={**ev, "calls": len(hits)}, location=ev["location"])]


def _when(rec: Recorder, ev: dict) -> str:
    """' at step 12 (train.py:40)' during a run; a checkup probe has no step or user line."""
    return (f" at step {ev['step']}" if rec.source == "run" else "") + where(ev)


def _labels_ignored(rec: Recorder, hit: tuple[dict, int] | None, sampled: int) -> list[Finding]:
    if hit:
        ev, n = hit
        return [finding(
            "labels-all-ignored",
            f"every one of the {ev['targets']} targets equals ignore_index {ev['ignore_index']} in `{ev['loss']}`{where(ev)}; "
            f"seen in {n} of {sampled} sampled loss calls",
            rec.source, evidence={**ev, "calls": n}, location=ev["location"],
        )]
    steps = [r for r in rec.records if r["loss"] is not None]
    if len(steps) >= MIN_STEPS and all(r["loss"] == 0 and r["grad_norm"] == 0 for r in steps):
        return [finding(
            "labels-all-ignored",
            f"the loss was exactly 0 with all-zero gradients on all {len(steps)} recorded steps: nothing is being learned",
            rec.source, evidence={"steps": len(steps)},
        )]
    return []


def _init_loss(rec: Recorder) -> list[Finding]:
    first = rec.first_loss
    if not first or first["value"] != first["value"]:  # NaN first loss is a non-finite finding
        return []
    value, chance = first["value"], first["chance"]
    if first["loss"] == "mse_loss":
        high, low = MSE_INIT_HIGH * max(chance, first["zero_prediction"]) + 1e-12, MSE_INIT_LOW * chance
    else:
        high, low = max(INIT_LOSS_HIGH * chance, chance + INIT_LOSS_MARGIN), INIT_LOSS_LOW * chance
    ev = {**first, "high_threshold": high, "low_threshold": low}
    basis = f"chance level {fmt(chance)} ({first['basis']})"
    if value > high:
        return [finding("init-loss-mismatch", f"first `{first['loss']}` loss {fmt(value)}{_when(rec, first)}; "
                        f"{basis}: {fmt(value / chance if chance else float('inf'))}x higher", rec.source, evidence=ev, location=first["location"])]
    if value < low and chance > 0:
        return [finding("label-leakage", f"first `{first['loss']}` loss {fmt(value)}{_when(rec, first)}; "
                        f"{basis}: an untrained model should not beat chance by {fmt(chance / max(value, 1e-12))}x",
                        rec.source, evidence=ev, location=first["location"])]
    return []
