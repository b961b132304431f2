"""Multi-loss balance: rules over the gradients the additive terms of a loss send to the parameters they
share (measured by diagnosis/loss_terms.py for run, checkup and the Monitor).

A sample is one measurement at one operating point on one batch:
`{"at": ..., "values": {term: value}, "norms": {term: gradient norm on the shared parameters},
"pairs": [{"terms": [a, b], "cosine": c, "cancel": |g_a + g_b| / (|g_a| + |g_b|)}],
"uninformed": {term: the value of an uninformed model, when a loss function computed the term}}`.

`loss-imbalance` judges the latest samples (is the term drowned now, and has it been all along?) and the
term's values from the first samples to the latest (is it served anyway?); `loss-conflict` judges the first
samples (opposition before any compromise exists) and every later one.
"""

from __future__ import annotations

import math
from typing import Any, Collection, Sequence

from ..vocabulary.finding import Finding, Hypothesis, finding
from ..vocabulary.numbers import fmt
from .thresholds import (BALANCE_SAMPLES, CONFLICT_CANCEL, IMBALANCE_DISPLACED, IMBALANCE_FELL, IMBALANCE_MET,
                         IMBALANCE_RATIO, IMBALANCE_TASKS, IMBALANCE_WORSE, NEAR_CHANCE)

Sample = dict[str, Any]


def judge(samples: Sequence[Sample], source: str, weights: dict[str, float] | None = None,
          tasks: Collection[str] = (), unknown: Collection[str] = ()) -> list[Finding]:
    """Both rules over the samples in the order they were taken. `weights`: each term's constant factor in the
    loss, when known (the recorded loss), so a finding can say whether the weight or the term's scale drowns it;
    `tasks`: the terms that read a target (the others are penalties on the outputs or the weights, but for the
    `unknown`: terms off tape, whose reads were not seen; they may drown others, and are not judged drowned)."""
    if len(samples) < BALANCE_SAMPLES:
        return []
    return imbalance(samples, source, weights or {}, tasks, unknown) + conflict(samples, source, tasks)


def imbalance(samples: Sequence[Sample], source: str, weights: dict[str, float],
              tasks: Collection[str] = (), unknown: Collection[str] = ()) -> list[Finding]:
    """A term drowned (its gradient three orders below the largest on every sample; two, for a task beside a
    task that was served while it was not), or a task displaced: its
    gradient an order below a term that reads no target (a penalty), which fell by half or more while the
    task did not — the optimizer served the penalty; or a task traded away: its gradient an order below the
    largest term's, which fell by half while the task's value doubled; or a task drowned at the start by a
    penalty's scale, the penalty then met (_collapsed); or a task starved: it ended at the value of a model
    that ignores its inputs while a term whose gradient outweighed its own on every sample was met (_starved).
    A weight written into the loss excuses
    the first, a choice (0.01 on an auxiliary loss), never the others: no weight is meant to stop a task
    learning, nor to make it worse."""
    found = []
    for term in _common(samples, "norms"):
        if term in unknown:
            continue  # what it reads was not seen: it may be a penalty on the weights, never judged drowned
        ratios = [_ratio(s["norms"], term) for s in samples]
        if any(r is None for r in ratios):
            continue
        fell = _fell(samples, term)
        if (collapse := _collapsed(samples, term, ratios, source, weights, tasks, unknown)) is not None:
            found.append(collapse)
            continue
        starved = _starved(samples, term, source, weights, tasks)
        if fell is not None and fell >= IMBALANCE_FELL and starved is None:
            continue  # the term is being served: through its own parameters, or it is nearly met
        largest = max((n for n in samples[-1]["norms"].items() if n[0] != term), key=lambda kv: kv[1])[0]
        served_other = (_fell(samples, largest) or 0.0) >= IMBALANCE_FELL
        penalty = largest not in tasks and largest not in unknown
        worse = fell is not None and fell <= -IMBALANCE_WORSE
        displaced = (term in tasks and (penalty or worse) and max(ratios) < IMBALANCE_DISPLACED and served_other
                     and (fell is None or fell < IMBALANCE_FELL))
        if starved is not None and not displaced:  # the penalty's own reading, when it applies, says more
            found.append(starved)
            continue
        # Between tasks, the bar is lower when the larger one was served and this one was not.
        bar = IMBALANCE_TASKS if term in tasks and largest in tasks and served_other else IMBALANCE_RATIO
        if not displaced and (max(ratios) >= bar
                              or _weighted_on_purpose(max(ratios), weights.get(term), weights.get(largest), bar)):
            continue
        found.append(_imbalance_finding(term, largest, ratios, fell, samples, source, weights,
                                        "penalty" if displaced and penalty else "worse" if displaced else None,
                                        by_penalty=term in tasks and penalty))
    return found


def conflict(samples: Sequence[Sample], source: str, tasks: Collection[str] = ()) -> list[Finding]:
    """Pairs of terms that cancel on every sample. Only pairs of tasks, when some term reads a target (`tasks`):
    a penalty (a KL, a commitment to a codebook, a sparsity or weight penalty) pulls toward a prior the task
    does not share, so it opposes the task by design; whether it holds the task back is what loss-imbalance and
    over-regularization ask."""
    found = []
    for a, b in _pairs(samples):
        if tasks and not {a, b} <= set(tasks):
            continue
        cancels = [_pair(s, a, b) for s in samples]
        if any(p is None or not math.isfinite(p["cancel"]) or p["cancel"] > CONFLICT_CANCEL for p in cancels):
            continue
        worst = max(p["cancel"] for p in cancels)
        cosines = [p["cosine"] for p in cancels]
        observation = (f"the loss terms `{a}` and `{b}` send opposite gradients to the shared parameters on all "
                       f"{len(samples)} samples, from the first ({_where(samples[0])}) on: cosine "
                       f"{fmt(min(cosines))} to {fmt(max(cosines))}; their summed gradient keeps at most "
                       f"{fmt(worst)} of the sum of their norms")
        found.append(finding("loss-conflict", observation, source, evidence={
            "terms": [a, b], "cosines": cosines, "cancel": [p["cancel"] for p in cancels],
            "at": [s.get("at") for s in samples]}, hypotheses=_conflict_hypotheses(a, b)))
    return found


def _imbalance_finding(term: str, largest: str, ratios: list[float], fell: float | None, samples: Sequence[Sample],
                       source: str, weights: dict[str, float], displaced: str | None = None,
                       by_penalty: bool = False) -> Finding:
    """`displaced`: by a penalty the optimizer served ("penalty"), traded away for a larger term ("worse"), or
    starved beside a larger term that was met ("starved");
    `by_penalty`: a task drowned by a term that reads no target."""
    weight = weights.get(term)
    moved = ("" if fell is None else f"; its value went from {fmt(_value(samples[0], term))} to "
             f"{fmt(_value(samples[-1], term))}")
    observation = (f"the loss term `{term}` sends a gradient {fmt(max(ratios))} times or less the size of "
                   f"`{largest}`'s to the shared parameters, on all {len(samples)} samples{moved}")
    if displaced == "worse":
        observation += (f", while `{largest}` went from {fmt(_value(samples[0], largest))} to "
                        f"{fmt(_value(samples[-1], largest))}: the optimizer served it and made `{term}` worse")
    elif displaced == "starved":
        observation += (f", near {fmt(_level(samples, term))}, the value of a model that ignores its inputs, while "
                        f"`{largest}` went from {fmt(_value(samples[0], largest))} to "
                        f"{fmt(_value(samples[-1], largest))}: the optimizer met `{largest}` and `{term}` learned next "
                        "to nothing")
    elif displaced:
        observation += (f", while `{largest}`, which reads no target, went from {fmt(_value(samples[0], largest))} to "
                        f"{fmt(_value(samples[-1], largest))}"
                        f"{f' (weight {fmt(weights[largest])})' if weights.get(largest) not in (None, 1.0) else ''}: "
                        "the optimizer served the penalty, not the task")
    # A penalty that drowns the task by its weight is a regularisation set too strong (over-regularization, the
    # catalog's reading: lower the coefficient); one that drowns it with the weights taken out is on another
    # scale than the task (a sum beside a mean, other units), which no coefficient meant for it set: the
    # imbalance of scales is the cause, and the over-regularisation it produces follows from it.
    unweighted = _unweighted(max(ratios), weight, weights.get(largest)) if by_penalty else None
    scale = unweighted is not None and unweighted < IMBALANCE_DISPLACED
    if scale:
        observation += (f"; without the weights in front of them the gradients are still {fmt(unweighted)} to 1: "
                        f"`{largest}`'s scale, not its weight, drowns `{term}`")
    rescale = Hypothesis(f"`{term}` is on a far smaller scale than `{largest}` (units, a mean beside a sum)",
                         f"multiply `{term}` by {fmt(1 / max(ratios))} for a few hundred steps on a copy: "
                         "its value starts to fall")
    chosen = Hypothesis(f"the weight in front of `{term}`{f' ({fmt(weight)})' if weight is not None else ''} is "
                        "smaller than intended", f"raise the weight 100x on a copy and watch `{term}` fall", kind="subtle")
    harmless = Hypothesis(f"`{term}` is a faint regulariser nothing depends on",
                          f"drop `{term}`: if no metric you care about changes, the imbalance is harmless", kind="null")
    hypotheses = [rescale, chosen, harmless]
    # Its values measured and not served: the task it stands for does not learn. Without values, only the
    # gradients are known: it has no say, whether it learns anyway is not.
    return finding("loss-imbalance", observation, source, hypotheses=hypotheses,
                   severity="error" if fell is not None else None, evidence={
        "term": term, "largest": largest, "ratios": ratios, "fell": fell, "weight": weight, "displaced": displaced,
        "norms": [s["norms"] for s in samples], "at": [s.get("at") for s in samples],
        # A task starved by a penalty (or a term whose reads were not seen) that outweighs it with the weights
        # taken out too is what a regularisation-off arm reads; outweighing it by its weight alone (a KL x 100),
        # the coefficient is the choice over-regularization names.
        **({"unweighted": unweighted, "explains": ["over-regularization"]}
           if scale or (displaced == "starved" and unweighted is not None and unweighted < 1.0) else {})})


def _starved(samples: Sequence[Sample], term: str, source: str, weights: dict[str, float],
             tasks: Collection[str]) -> Finding | None:
    """A task that learned nothing while a term with more say was met: its latest values are still within
    NEAR_CHANCE of an uninformed model's (ln C for a cross-entropy, the targets' variance for an MSE: what
    predicting the class frequencies or the mean gives), while another term sent a larger gradient to the shared
    weights on every sample and fell by IMBALANCE_MET. The optimizer's steps were that term's (a penalty driving
    the states to zero, a regression in pixels owning the trunk), and the task got none of the weights' use.
    A task below its uninformed level learned something, whatever its pace; a task beside terms no larger than
    itself, or none met, is not starved by them. None otherwise."""
    half = len(samples) // 2
    level = _level(samples, term)
    if term not in tasks or level is None or level <= 0:
        return None
    last = [v for s in samples[-half:] if (v := _value(s, term)) is not None]
    if not last or sum(last) / len(last) < NEAR_CHANCE * level:
        return None
    # Met: a term bounded below by zero (a loss, a penalty) brought near it; a policy-gradient surrogate that
    # changes sign has no floor to meet.
    larger = [n for n in _common(samples, "norms") if n != term
              and all(s["norms"][n] > s["norms"][term] for s in samples)
              and all((v := _value(s, n)) is not None and v >= 0 for s in samples)
              and (_fell(samples, n) or 0.0) >= IMBALANCE_MET]
    if not larger:
        return None
    other = max(larger, key=lambda n: samples[-1]["norms"][n])
    ratios = [s["norms"][term] / s["norms"][other] for s in samples]
    return _imbalance_finding(term, other, ratios, _fell(samples, term), samples, source, weights, "starved",
                              by_penalty=other not in tasks)


def _level(samples: Sequence[Sample], term: str) -> float | None:
    """The term's uninformed value over the latest samples (the targets' variance changes with the batch)."""
    half = len(samples) // 2
    levels = [v for s in samples[-half:] if isinstance(v := (s.get("uninformed") or {}).get(term), (int, float))
              and math.isfinite(v)]
    return sum(levels) / len(levels) if levels and len(levels) == len(samples[-half:]) else None


def _collapsed(samples: Sequence[Sample], term: str, ratios: list[float], source: str, weights: dict[str, float],
               tasks: Collection[str], unknown: Collection[str]) -> Finding | None:
    """A task drowned at the start by a penalty's scale, and the penalty then met: on every sample of the first
    half (the initial weights) the task's gradient is an order below the penalty's, with the weights in the loss
    taken out too (a KL summed beside a reconstruction averaged over pixels: no coefficient chose that), and the
    penalty fell by IMBALANCE_MET. The shared weights went where the penalty wants them (a posterior on the
    prior, states at zero) before the task had a say; whatever the task learned later came through its own
    parameters. Later samples cannot clear it: a met penalty asks nothing more. None otherwise."""
    half = len(samples) // 2
    if term not in tasks or half < 1:
        return None
    start = samples[:half]
    others = {n for s in start for n in s["norms"]} - {term} - set(tasks) - set(unknown)
    for penalty in sorted(others):
        early = [s["norms"].get(penalty) for s in start]
        if any(not isinstance(n, float) or not math.isfinite(n) or n <= 0 for n in early):
            continue
        own = [s["norms"][term] / n for s, n in zip(start, early)]
        unweighted = _unweighted(max(own), weights.get(term), weights.get(penalty))
        # A penalty weighted an order or more below the task was scaled down on purpose: its strength is a choice.
        chosen = abs(weights.get(penalty) or 0.0) < IMBALANCE_DISPLACED * abs(weights.get(term) or 0.0)
        if (max(own) >= IMBALANCE_DISPLACED or unweighted is None or unweighted >= IMBALANCE_DISPLACED or chosen
                or (_fell(samples, penalty) or 0.0) < IMBALANCE_MET):
            continue
        # Weighted an order or more above the task, the coefficient drowns it too: a regularisation set too
        # strong is over-regularization's reading (lower the coefficient), which this then does not explain.
        strong = abs(weights.get(penalty) or 0.0) * IMBALANCE_DISPLACED >= abs(weights.get(term) or 0.0)
        scaled = f", and its weight {fmt(weights[penalty])}" if strong else ", not its weight"
        observation = (f"at the start, the loss term `{term}` sends a gradient {fmt(max(own))} times or less the "
                       f"size of `{penalty}`'s to the shared parameters ({fmt(unweighted)} to 1 without the weights "
                       f"in front of them: `{penalty}`'s scale{scaled}), and `{penalty}`, which reads no "
                       f"target, went from {fmt(_value(samples[0], penalty))} to {fmt(_value(samples[-1], penalty))}: "
                       f"the shared weights went where `{penalty}` wants them before `{term}` had a say "
                       f"(`{term}` went from {fmt(_value(samples[0], term))} to {fmt(_value(samples[-1], term))}, "
                       "through what only it reaches)")
        hypotheses = [
            Hypothesis(f"`{term}` is on a far smaller scale than `{penalty}` (a mean over elements beside a sum)",
                       f"put both on the same reduction (sum `{term}` over its elements, or average `{penalty}`) "
                       f"on a copy: `{penalty}` no longer falls to nothing and `{term}` falls further"),
            Hypothesis(f"`{penalty}` is meant to be met (a prior the task should not use)",
                       f"drop `{penalty}` on a copy: if `{term}` ends no lower, the imbalance is harmless", kind="null"),
        ]
        # A warning: the task learned something; the regularisation-off arm, when it runs, measures the cost.
        return finding("loss-imbalance", observation, source, hypotheses=hypotheses, evidence={
            "term": term, "largest": penalty, "ratios": ratios, "fell": _fell(samples, term), "displaced": "collapsed",
            "weight": weights.get(term), "unweighted": unweighted,
            **({} if strong else {"explains": ["over-regularization"]}),
            "norms": [s["norms"] for s in samples], "at": [s.get("at") for s in samples]})
    return None


def _conflict_hypotheses(a: str, b: str) -> list[Hypothesis]:
    return [
        Hypothesis(f"a sign error: `{b}` (or `{a}`) enters the loss with the wrong sign",
                   f"flip the sign of `{b}` for a few steps on a copy: the cancellation disappears and both fall"),
        Hypothesis(f"`{a}` and `{b}` ask for incompatible outputs of the shared weights",
                   f"drop `{b}` for a few hundred steps on a copy: `{a}` falls much faster", kind="subtle"),
        Hypothesis("the opposition is designed (an adversarial or gradient-reversal objective)",
                   "confirm from the method that the term should oppose the task loss", kind="null"),
    ]


def _unweighted(ratio: float, weight: float | None, top: float | None) -> float | None:
    """The gradient ratio of a term to the largest with both constant weights taken out; None unless both
    weights are known."""
    if not weight or not top:
        return None
    return ratio * abs(top) / abs(weight)


def _weighted_on_purpose(ratio: float, weight: float | None, top: float | None, bar: float = IMBALANCE_RATIO) -> bool:
    """The constant weights in the loss alone account for the gap: the terms themselves (without them) are within
    `bar` of each other, and a weight written into the loss is a choice (0.01 on an auxiliary loss)."""
    if not weight or top == 0:
        return False
    return ratio * abs(1.0 if top is None else top) / abs(weight) >= bar


def _common(samples: Sequence[Sample], key: str) -> list[str]:
    names = [set(s.get(key) or {}) for s in samples]
    return sorted(set.intersection(*names)) if names else []


def _ratio(norms: dict[str, float], term: str) -> float | None:
    """The term's gradient norm over the largest term's; None when it has none (a satisfied term asks nothing)."""
    own, top = norms.get(term), max(norms.values(), default=0.0)
    if own is None or not math.isfinite(own) or not math.isfinite(top) or own <= 0 or top <= 0:
        return None
    return own / top


def _value(sample: Sample, term: str) -> float | None:
    v = (sample.get("values") or {}).get(term)
    return v if isinstance(v, (int, float)) and math.isfinite(v) else None


def _fell(samples: Sequence[Sample], term: str) -> float | None:
    """How much of its first value the term lost by the latest samples (first and last halves, averaged:
    different batches are compared as groups, not one against one)."""
    half = len(samples) // 2
    first = [v for s in samples[:half] if (v := _value(s, term)) is not None]
    last = [v for s in samples[-half:] if (v := _value(s, term)) is not None]
    if not first or not last:
        return None
    start, end = sum(first) / len(first), sum(last) / len(last)
    return (start - end) / abs(start) if start != 0 else None


def _pairs(samples: Sequence[Sample]) -> list[tuple[str, str]]:
    first = {tuple(p["terms"]) for p in samples[0].get("pairs") or []}
    return sorted(first)


def _pair(sample: Sample, a: str, b: str) -> dict[str, float] | None:
    return next((p for p in sample.get("pairs") or [] if tuple(p["terms"]) == (a, b)), None)


def _where(sample: Sample) -> str:
    at = sample.get("at")
    return f"step {at}" if isinstance(at, int) else str(at)


class Online:
    """The Monitor's samples, as they come: conflict is judged once on the first BALANCE_SAMPLES (opposition
    from the start), imbalance once BALANCE_SAMPLES more have come, on the first and the latest BALANCE_SAMPLES;
    each term (or pair) is named once."""

    def __init__(self, source: str):
        self.source = source
        self.first: list[Sample] = []
        self.latest: list[Sample] = []
        self.named: set[tuple[str, ...]] = set()

    def add(self, sample: Sample, weights: dict[str, float] | None = None) -> list[Finding]:
        if len(self.first) < BALANCE_SAMPLES:
            self.first.append(sample)
        else:
            self.latest = (self.latest + [sample])[-BALANCE_SAMPLES:]
        if len(self.first) < BALANCE_SAMPLES:
            return []
        new = conflict(self.first, self.source) if not self.latest else []  # the first samples just completed
        if len(self.latest) == BALANCE_SAMPLES:  # drowned from the first samples to the latest
            new += imbalance(self.first + self.latest, self.source, weights or {})
        fresh = [f for f in new if self._key(f) not in self.named]
        self.named.update(self._key(f) for f in fresh)
        return fresh

    @staticmethod
    def _key(f: Finding) -> tuple[str, ...]:
        return (f.code, *(f.evidence.get("terms") or [f.evidence.get("term")]))
