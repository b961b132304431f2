"""Why won't this metric move? The seeds' decision table (Part 5, structural ceiling analysis) over what
diagnosis/stuck.py measured on copies:

1. Does lowering the loss move the metric? The outputs moved along the loss's own descent direction: a loss
   that does not fall (saturated) or falls while the metric stays (disconnected) cannot drive the metric.
2. Does it move with one loss term disabled, at least twice as far as with every term? Then that term holds
   it back (competing losses).
3. Does the metric move when a copy is trained on the batch? Then nothing blocks it here: the stall was the
   optimizer's pace or a coincidence of the batches seen.
4. Otherwise the parameters cannot move it (steps along the loss gradient in parameter space and training
   leave it): a structural ceiling.
"""

from __future__ import annotations

import math
from typing import Any

from ..vocabulary.finding import Finding, Hypothesis, finding
from ..vocabulary.numbers import fmt
from .thresholds import STUCK_COMPETING, STUCK_MOVE, STUCK_SATURATED

SOURCE = "checkup"


def improvement(before: float, after: float, higher_is_better: bool) -> float:
    """How much the metric improved, relative to its value (from 0: absolute)."""
    gain = (after - before) if higher_is_better else (before - after)
    return gain / abs(before) if before != 0 else gain


def moved(before: float, after: float, higher_is_better: bool) -> bool:
    return math.isfinite(after) and improvement(before, after, higher_is_better) > (STUCK_MOVE if before != 0 else 1e-6)


def verdict(m: dict[str, Any]) -> list[Finding]:
    """One finding: the first row of the decision table the measurements `m` satisfy (see diagnosis/stuck.py)."""
    up = m["higher_is_better"]
    start = m["metric"]
    outputs = m["outputs"]  # [{"loss": ..., "metric": ...}] along the loss's descent direction on the outputs
    fall = max(((m["loss"] - o["loss"]) / abs(m["loss"]) if m["loss"] else 0.0) for o in outputs) if outputs else 0.0
    served = any(moved(start, o["metric"], up) for o in outputs)
    if not served:
        return [_disconnected(m, fall)]
    trained = m["trained"]["all"]
    gain = max(improvement(start, trained, up), 0.0)
    dropped = {k: v for k, v in m["trained"].items() if k != "all" and moved(trained, v, up)
               and improvement(start, v, up) > STUCK_COMPETING * gain}
    if dropped:
        return [_competing(m, max(dropped, key=lambda k: improvement(start, dropped[k], up)))]
    if moved(start, trained, up):
        return [_moves(m)]
    # A ceiling is what the parameters cannot reach: a step along the loss gradient that moves the metric
    # says the copy's training was only too slow to (the rate, the steps).
    if any(moved(start, r["metric"], up) for r in m["parameters"]):
        return [_moves(m, by_steps=True)]
    return [_ceiling(m)]


def _disconnected(m: dict[str, Any], fall: float) -> Finding:
    if fall < STUCK_SATURATED:
        observation = (f"the loss ({fmt(m['loss'])}) has no descent on the model's outputs: moving them along its "
                       f"gradient (norm {fmt(m['loss_grad_norm'])}) lowers it by {fmt(fall)} of its value; the "
                       f"metric stays at {fmt(m['metric'])}")
        first = Hypothesis("the loss is saturated where the metric fails (a squashed output, a margin already met)",
                           "print the loss's gradient on the outputs of the samples the metric counts as wrong")
    else:
        observation = (f"moving the outputs along the loss's descent direction lowers the loss by {fmt(fall)} of its "
                       f"value ({fmt(m['loss'])}) and leaves the metric at {fmt(m['metric'])}")
        first = Hypothesis("the loss and the metric measure different things",
                           "compute the metric on outputs that minimise the loss exactly (the targets themselves)")
    return finding("metric-loss-disconnected", observation, SOURCE, evidence=_evidence(m), hypotheses=[first, Hypothesis(
        "the metric's threshold or argmax ignores what the loss changes (a calibrated score below 0.5)",
        "plot the metric against the loss over the outputs of one batch", kind="subtle")])


def _moves(m: dict[str, Any], by_steps: bool = False) -> Finding:
    observation = (f"steps of the parameters along the loss gradient move the metric from {fmt(m['metric'])} to "
                   f"{fmt(_best(m, m['parameters']))} (training a copy {m['steps']} steps reached "
                   f"{fmt(m['trained']['all'])}: too few steps, or too low a rate, to show it)" if by_steps else
                   f"training a copy {m['steps']} steps on the batch moves the metric from {fmt(m['metric'])} to "
                   f"{fmt(m['trained']['all'])}; lowering the loss on the outputs moves it too")
    return finding("metric-moves", observation, SOURCE, evidence=_evidence(m))


def _competing(m: dict[str, Any], term: str) -> Finding:
    observation = (f"trained {m['steps']} steps on copies, the metric goes from {fmt(m['metric'])} to "
                   f"{fmt(m['trained']['all'])} with every loss term and to {fmt(m['trained'][term])} with `{term}` "
                   "disabled")
    return finding("metric-competing-losses", observation, SOURCE, evidence=_evidence(m), hypotheses=[
        Hypothesis(f"`{term}` opposes the term the metric depends on",
                   f"drop `{term}` for a few hundred steps on a copy: the metric keeps moving"),
        Hypothesis(f"`{term}`'s weight is too large for this stage of training",
                   f"halve `{term}`'s weight and watch the metric", kind="subtle")])


def _ceiling(m: dict[str, Any]) -> Finding:
    best = _best(m, m["parameters"])
    observation = (f"lowering the loss on the outputs directly moves the metric from {fmt(m['metric'])} to "
                   f"{fmt(_best(m, m['outputs']))}, but steps of the parameters along the loss gradient reach "
                   f"{fmt(best)} and {m['steps']} training steps on a copy "
                   f"reach {fmt(m['trained']['all'])}"
                   + (", with any one loss term disabled too" if len(m["trained"]) > 1 else ""))
    return finding("metric-structural-ceiling", observation, SOURCE, evidence=_evidence(m))


def _best(m: dict[str, Any], rows: list[dict[str, Any]]) -> float:
    """The best metric among the rows (the start when there are none)."""
    return max((r["metric"] for r in rows), key=lambda v: v if m["higher_is_better"] else -v, default=m["metric"])


def _evidence(m: dict[str, Any]) -> dict[str, Any]:
    return {k: m[k] for k in ("metric", "loss", "loss_grad_norm", "outputs", "parameters", "trained", "steps") if k in m}
