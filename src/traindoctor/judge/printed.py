"""The script's own measures of success, read from what it printed (measure/printed.py), against its loss.

The optimizer descends the loss; the printed accuracy or reward is what that was meant to achieve. Two
outcomes say the loss and the goal have come apart, whatever the model or the task:

  the measure got worse      every late print below the first, beyond the prints' noise: what the optimizer
                             descends pulls away from the goal (for a reward: the loss's sign against it)
  a score stuck low          the loss fell by 30% while a bounded score (accuracy, F1...) stayed flat in the
                             lower half of its range, or never rose above its floor (never right, worse than
                             any guess): the two measure different things
"""

from __future__ import annotations

import math

import numpy as np

from ..measure.printed import Metric
from ..measure.recorder import Recorder
from ..vocabulary.finding import Finding, Hypothesis, finding
from ..vocabulary.numbers import fmt
from .numerics import why_not_learning
from .thresholds import (METRIC_FLAT, METRIC_LOSS_FALL, PRINTED_FLOOR, PRINTED_MIN_POINTS, PRINTED_STUCK_LEVEL, PRINTED_WORSE,
                         PRINTED_WORSE_NOISE)


def check(rec: Recorder) -> list[Finding]:
    losses = [(r["step"], r["loss"]) for r in rec.records
              if isinstance(r.get("loss"), float) and math.isfinite(r["loss"])]
    # A score stuck while the loss did not learn either (it fell only from an inflated start to chance) is
    # no mismatch: both say nothing was learned.
    learned = why_not_learning(rec) is None
    out: list[Finding] = []
    for metric in rec.printed.series(PRINTED_MIN_POINTS).values():
        if metric.kind is None:
            continue
        worse = _worse(metric, rec.source)
        out += worse if worse else _stuck(metric, losses, rec.source) if learned else []
    return out


def _bound(values: np.ndarray) -> float | None:
    """The range of a bounded score: 1 for a fraction, 100 for a percentage; None for a reward."""
    if values.min() < 0:
        return None
    return 1.0 if values.max() <= 1 else 100.0 if values.max() <= 100 else None


def _worse(m: Metric, source: str) -> list[Finding]:
    v = np.asarray(m.values, dtype=float)
    if not np.isfinite(v).all():
        return []
    tail = v[-max(2, len(v) // 3):]
    end = float(np.median(tail))
    noise = 1.4826 * float(np.median(np.abs(tail - end)))
    bound = _bound(v) if m.kind == "score" else None
    scale = bound or max(abs(v[0]), abs(end))
    fall = float(v[0]) - end
    if not (tail < v[0]).all() or fall <= PRINTED_WORSE_NOISE * noise or fall <= PRINTED_WORSE * scale:
        return []
    span = f"steps {m.steps[-len(tail)]}–{m.steps[-1]}"
    seen = (f"the printed `{m.label}` got worse as training went on: {fmt(v[0])} at its first print (step "
            f"{m.steps[0]}), {fmt(end)} over its last {len(tail)} ({span}), every one of them below the first")
    evidence = {"metric": m.label, "first": float(v[0]), "end": end, "noise": noise, "prints": len(v),
                "steps": [m.steps[0], m.steps[-1]]}
    if m.kind == "reward":
        return [finding(
            "loss-sign-flipped", seen + " — the optimizer lowers a loss that pulls the policy away from the reward",
            source, evidence=evidence, next_step="Minimise the negative of what should grow (−log_prob × return, "
            "−Q(s, π(s))), and check that the printed reward rises over the first steps.", hypotheses=[
                Hypothesis("the loss enters with the wrong sign against the reward: a policy-gradient loss written "
                           "+log_prob × return, an actor loss Q(s, π(s)) without its minus",
                           "write the loss as the negative of what should grow; print the sign of its gradient "
                           "with respect to the return"),
                Hypothesis("the reward, the return or the advantage is computed with the wrong sign",
                           "print a few rewards next to the behaviour that earned them", kind="subtle"),
                Hypothesis("the learning rate is so high that the policy collapsed",
                           "rerun with the learning rate ×0.1: a sign error falls from the start there too",
                           kind="null")])]
    return [finding(
        "loss-metric-mismatch", seen + ", while the optimizer lowered its loss", source, evidence=evidence,
        hypotheses=[
            Hypothesis(f"`{m.label}` is computed wrongly (the wrong axis of an argmax, predictions against the "
                       "wrong labels)", "compute it by hand on one batch whose answer you know"),
            Hypothesis("the loss is not the objective the metric measures (its sign, or the wrong targets)",
                       "print the loss and the metric on the same batch, step by step", kind="subtle")])]


def _stuck(m: Metric, losses: list[tuple[int, float]], source: str) -> list[Finding]:
    """A bounded score flat in the lower half of its range, or never above its floor, while the loss fell."""
    v = np.asarray(m.values, dtype=float)
    bound = _bound(v) if m.kind == "score" and np.isfinite(v).all() else None
    if bound is None or len(losses) < 10:
        return []
    lv = np.asarray([x for _, x in losses])
    k, j = max(1, len(lv) // 10), max(1, len(v) // 5)
    l0, l1 = float(np.median(lv[:k])), float(np.median(lv[-k:]))
    m0, m1 = float(np.median(v[:j])), float(np.median(v[-j:]))
    tail = v[-max(2, len(v) // 3):]
    flat = abs(m1 - m0) < METRIC_FLAT * bound and m1 <= PRINTED_STUCK_LEVEL * bound
    floor = float(tail.max()) <= PRINTED_FLOOR * bound
    if not (l0 > 0 and l1 < (1 - METRIC_LOSS_FALL) * l0) or not (flat or floor):
        return []
    how = (f"stayed at {fmt(m0)} → {fmt(m1)}" if flat else
           f"ended at {fmt(float(np.median(tail)))} over its last {len(tail)} prints, no better than never right")
    return [finding(
        "loss-metric-mismatch",
        f"the loss fell from {fmt(l0)} to {fmt(l1)} while the printed `{m.label}` {how} (of {fmt(bound)}; "
        f"{len(v)} prints, steps {m.steps[0]}–{m.steps[-1]})",
        source, evidence={"loss_start": l0, "loss_end": l1, "metric_start": m0, "metric_end": m1, "metric": m.label,
                          "prints": len(v), "bound": bound},
        hypotheses=[
            Hypothesis(f"`{m.label}` is computed wrongly (the wrong axis of an argmax, predictions against the "
                       "wrong labels, a mode left on)", "compute it by hand on one batch whose answer you know"),
            Hypothesis("the loss is not the objective the metric measures", "print the loss and the metric on the "
                       "same batch", kind="subtle"),
            Hypothesis("the model memorises the training data and the metric is measured elsewhere",
                       "compute the metric on a training batch", kind="null")])]
