"""What the experiments of the differential diagnosis (diagnosis/experiments.py) show: each arm's outcome
as an observation with the hypotheses it keeps and kills, and the findings they confirm.

The hypotheses held while the loss does not learn, and the arm that tells each from the others:
  the learning rate is too low            lr-x10 falls where the baseline is stuck; or, for a loss that is a
                                          mean divided again by a constant, the rate times it (loss-divided)
  a schedule lowered it too soon          initial-lr falls where the baseline is stuck
  the learning rate is too high           lr-x0.1 falls where the baseline diverges or rises
  the regularisation dominates the data   regularisation-off moves the data term where the baseline is stuck
  the targets do not follow the inputs    fitted on some recorded batches, the real pairing of inputs and
                                          targets on the others is no better than shuffled pairings, where
                                          a control pairing known to be learnable is
  the output ignores the inputs           moving each sample's inputs to another sample leaves the loss
                                          unchanged to float rounding
  the model/loss cannot fit at all        no arm fits (the null: the setup itself)
"""

from __future__ import annotations

import math
from typing import Any, Sequence

from ..vocabulary import catalog
from ..vocabulary.finding import Finding, finding
from ..vocabulary.numbers import fmt
from .thresholds import (ABLATIONS, ARM_BETTER, CONTROL_MARGIN, CONTROL_PAIRING, HELD_OUT_BATCHES, ARM_FITS, ARM_MOVES, ARM_STUCK, EXPERIMENT_STEPS, INPUTS_REACH, LOSS_DEPENDS, LOSS_DIVIDED,
                         NEAR_CHANCE, NOT_LEARNING, PAIRING_MATTERS, SCHEDULE_CONVERGED, SCHEDULE_DECAY, SHUFFLES,
                         TYPICAL_PAIRING)

__all__ = ["ABLATIONS", "HELD_OUT_BATCHES", "LOSS_DIVIDED", "SCHEDULE_DECAY", "SHUFFLES", "judge", "learned", "not_learning",
           "pairing", "pairing_settled", "typical", "unpaired"]

LR = "the learning rate is too low"
SCHEDULE = "a schedule lowered the learning rate too soon"
LR_HIGH = "the learning rate is too high"
REGULARISED = "the regularisation dominates the data term"
DECOUPLED = "the targets do not follow the inputs"
SETUP = "the model, its initialisation or the loss cannot fit a batch"
IGNORED = "the model's output does not depend on its inputs"
LAYOUT = "a recurrent or attention layer recurs over the samples (its time dim holds the batch)"


def not_learning(losses: Sequence[float | None], chance: float | None = None, steps: int | None = None) -> str | None:
    """Why the recorded loss calls for the experiments — it went non-finite, rises, does not fall, stays near
    the loss of an uninformed model (`chance`: run's first-loss check measured it), or stopped
    falling halfway (a plateau far from where the model could be: an over-regularised loss falls at first as
    the penalty shrinks the weights) — or None while it still falls."""
    values = [v for v in losses if v is not None]
    if any(not math.isfinite(v) for v in values):
        return "went non-finite"
    # A run shorter than one arm has not had the chance an arm gets: its flat loss says nothing yet.
    if len(values) < 20 or (steps is not None and steps < EXPERIMENT_STEPS):
        return None
    k = max(3, len(values) // 10)
    head, tail = _median(values[:k]), _median(values[-k:])
    middle = _median(values[len(values) // 2 - k // 2: len(values) // 2 - k // 2 + k])
    fall = _relative(head, tail)
    if fall <= -NOT_LEARNING:
        return "rises"
    if fall < NOT_LEARNING:
        return "does not fall"
    if chance is not None and chance > 0 and tail >= NEAR_CHANCE * chance:
        return f"stays near chance level ({fmt(tail)} against {fmt(chance)})"
    return "stopped falling halfway" if _relative(middle, tail) < NOT_LEARNING / 2 else None


def _converged_at_peak(rates: Sequence[tuple[float, float | None]] | None) -> str | None:
    """How the recorded loss had stopped falling while the rate stood within SCHEDULE_DECAY of its peak, before
    the schedule lowered it further; None while it was still falling there (the schedule cut it short), when it
    never fell, or with too few recorded steps at that rate to tell."""
    peak = max((r for r, _ in rates or ()), default=0.0)
    if peak <= 0:
        return None
    high = [r * SCHEDULE_DECAY > peak * (1 + 1e-6) for r, _ in rates]  # float tolerance: 0.1 ** 1 of a peak is low
    start = high.index(True)
    top = next(i for i, (r, _) in enumerate(rates) if r == peak)
    end = next((i for i in range(top, len(rates)) if not high[i]), len(rates))
    losses = [v for _, v in rates[start:end] if v is not None]
    if len(losses) < 20 or not all(math.isfinite(v) for v in losses):
        return None
    k = max(3, len(losses) // 10)
    head, tail = _median(losses[:k]), _median(losses[-k:])
    middle = _median(losses[len(losses) // 2 - k // 2: len(losses) // 2 - k // 2 + k])
    if _relative(head, tail) < NOT_LEARNING or middle - tail >= SCHEDULE_CONVERGED * (head - tail):
        return None
    return (f"it fell from {fmt(head)} to {fmt(middle)} in the first half of the {len(losses)} recorded steps at "
            f"{fmt(peak / SCHEDULE_DECAY)} to {fmt(peak)}, and to {fmt(tail)} in the second")


def learned(losses: Sequence[float | None], chance: float | None = None, steps: int | None = None) -> str | None:
    """How the recorded loss learned, when it did: long enough to judge, no sign of a stall (not_learning),
    and the median of its last tenth at most half (ARM_FITS: what "fits" means for an arm) the median of its
    first tenth — or None."""
    values = [v for v in losses if v is not None]
    if len(values) < 20 or (steps is not None and steps < EXPERIMENT_STEPS) or not_learning(values, chance, steps):
        return None
    k = max(3, len(values) // 10)
    head, tail = _median(values[:k]), _median(values[-k:])
    return f"the loss learns ({fmt(head)} → {fmt(tail)})" if _relative(head, tail) >= ARM_FITS else None


def _median(values: Sequence[float]) -> float:
    return sorted(values)[len(values) // 2]


def _relative(before: float, after: float) -> float:
    return (before - after) / max(abs(before), abs(after), 1e-12)


def _unsticks(fall: float, base: float) -> bool:
    """One factor changed alone moves a stuck baseline: clearly, and at least ARM_BETTER times as far."""
    return fall >= ARM_MOVES and fall >= ARM_BETTER * max(base, 0.0)


def _fall(losses: Sequence[float]) -> float:
    """How far the arm took the loss down, as a share of where it started; -inf when it went non-finite."""
    first, last = losses[0], losses[-1]
    if not math.isfinite(last):
        return -math.inf
    return (first - last) / max(abs(first), 1e-12)


def judge(arms: dict[str, Any], context: dict[str, Any]) -> tuple[list[Finding], list[dict[str, Any]]]:
    """`context`: the learning rates, weight decay, penalty, steps, optimizer, and the producer (`source`)."""
    falls = {name: _fall(arm.losses) for name, arm in arms.items()}
    base = falls["baseline"]
    observations = [_observe_baseline(arms["baseline"], base, context)]
    found: list[Finding] = []
    stuck = base < ARM_STUCK

    def rescues(name: str) -> bool:
        return name in falls and _unsticks(falls[name], base)

    annealed = False  # the loss had converged at the rate before a schedule lowered it: nothing to rescue
    if "initial-lr" in arms:
        ok = stuck and rescues("initial-lr")
        initial, lr, peak = context["initial_lr"], context["lr"], context.get("peak_lr")
        # A schedule whose run never came within SCHEDULE_DECAY of the rate it is set to (a warmup longer than
        # the run) held the rate low from the start: the rate is too low, the schedule is where it is set.
        never = peak is not None and peak * SCHEDULE_DECAY <= initial
        converged = None if never else _converged_at_peak(context.get("rates"))
        annealed = ok and converged is not None
        arm = arms["initial-lr"]
        question = (f"Does the batch's loss fall at the learning rate the schedule "
                    f"{'is set to reach' if never else 'lowered from'} ({fmt(initial)}, now {fmt(lr)})?")
        observation = _observation("initial-lr", question, arm, falls["initial-lr"], base,
                                   keeps=[SCHEDULE] if ok and not annealed else [],
                                   kills=[SETUP, DECOUPLED] if ok and not annealed else [SCHEDULE])
        if annealed:
            observation["outcome"] += (f"; but the run's loss had stopped falling ({converged}) while the rate was "
                                       "still high: the schedule annealed a converged loss, and one batch fits "
                                       "further at the higher rate by memorising it")
        observations.append(observation)
        probe = (f"from where training stopped, {context['steps']} steps on one recorded batch take its loss down "
                 f"{_pct(falls['initial-lr'])} at {fmt(initial)} and {_pct(base)} at the current {fmt(lr)}")
        if ok and never:
            found.append(_finding("lr-too-low", arms, falls, context,
                                  f"the schedule never raised the learning rate above {fmt(peak)}, under a tenth of "
                                  f"the {fmt(initial)} it is set to reach (a warmup or ramp longer than the run); "
                                  + probe))
        elif ok and not annealed:
            found.append(_finding("scheduler-too-fast", arms, falls, context,
                                  f"the schedule lowered the learning rate {fmt(initial / lr)}x, to {fmt(lr)}, "
                                  f"before the recorded loss had settled at the higher rate; " + probe))
    divided = context.get("divided")
    undone = divided is not None and stuck and rescues("loss-divided") and not found
    if divided is not None:
        by = f"{divided['by']:g}"
        observations.append(_observation(
            "loss-divided", f"The loss is a mean (`{divided['term']}`) divided again by {by}: does the batch's loss fall "
            f"with the learning rate x {by}, the division undone?", arms["loss-divided"], falls["loss-divided"], base,
            keeps=[LR] if undone else [], kills=[SETUP, DECOUPLED] if undone else []))
    if undone:
        found.append(_finding("lr-too-low", arms, falls, context,
                              f"the loss is a mean (`{divided['term']}`) divided again by {by}, so each step is 1/{by} "
                              f"of the mean's: {context['steps']} steps on one batch take its loss down "
                              f"{_pct(falls['loss-divided'])} at the rate x {by} ({fmt(context['lr'] * divided['by'])}) "
                              f"and {_pct(base)} at the script's {fmt(context['lr'])} — drop the second division "
                              "(a mean already divides by the count), or multiply the rate by it"))
    low = stuck and not annealed and rescues("lr-x10") and not any(f.code in ("scheduler-too-fast", "lr-too-low") for f in found)
    observations.append(_observation(
        "lr-x10", "Does the batch's loss fall with a 10x larger learning rate?", arms["lr-x10"], falls["lr-x10"], base,
        keeps=[LR] if low or undone else [], kills=[SETUP, DECOUPLED] if low or undone else [LR]))
    if low:
        found.append(_finding("lr-too-low", arms, falls, context,
                              f"{context['steps']} steps on one batch take its loss down {_pct(falls['lr-x10'])} at "
                              f"10x the learning rate ({fmt(context['lr'] * 10)}) and {_pct(base)} at the script's "
                              f"{fmt(context['lr'])}"))
    high = base <= -ARM_STUCK and rescues("lr-x0.1")
    observations.append(_observation(
        "lr-x0.1", "Does the batch's loss fall with a 10x smaller learning rate?", arms["lr-x0.1"], falls["lr-x0.1"], base,
        keeps=[LR_HIGH] if high else [], kills=[] if high else [LR_HIGH]))
    if high:
        found.append(_finding("lr-too-high", arms, falls, context,
                              f"{context['steps']} steps on one batch take its loss down {_pct(falls['lr-x0.1'])} "
                              f"at a tenth of the learning rate ({fmt(context['lr'] / 10)}), while at the script's "
                              f"{fmt(context['lr'])} it {'diverges' if base == -math.inf else f'rises {_pct(-base)}'}"))
    if "regularisation-off" in arms:
        found += _regularisation(arms, falls, context, observations)
    if arms["baseline"].ablated:
        found += _ablation(arms["baseline"], base, context, observations)
    if "other-layout" in arms and arms["baseline"].transfer and arms["other-layout"].transfer:
        found += _layout(arms, context, observations)
    held = arms["baseline"].held_out
    if held is not None:
        found += _transfer(arms["baseline"], held, context, observations)
    elif context.get("settled"):
        observations.append({
            "name": "held-out-batch", "question": "Do the targets follow the inputs (a permutation test)?",
            "measured": {}, "outcome": f"not run: `{context['settled']}`, found before the experiments, already "
                                       "explains the one finding the test could add (labels-decoupled)",
            "keeps": [], "kills": []})
    for f in found:  # confirmed as what stops the loss: an error, whatever the code's usual severity
        f.evidence["confirmed_by"] = "experiment"
        f.severity = "error"
    return found, observations


def _regularisation(arms: dict[str, Any], falls: dict[str, float], context: dict[str, Any],
                    observations: list[dict[str, Any]]) -> list[Finding]:
    """Regularisation on and off, from the trained weights and (when recorded) from the initial ones: it
    dominates when turning it off lets the data term fall clearly further from either start."""
    terms = _penalty_terms(context.get("penalties"))
    pairs = [("baseline", "regularisation-off", "")]
    if "regularisation-off-from-start" in arms:
        pairs.append(("regularised-from-start", "regularisation-off-from-start", " (from the weights training started from)"))
        # Dropout and smoothing set a floor the data term of trained weights may already sit at, where any data
        # term falls further without them: only from the start does their pull show, as a fall held back.
        if context.get("dropout") or context.get("smoothing"):
            pairs = pairs[1:]
    penalties = context.get("penalties")
    on_weights = any(p["weights_only"] for p in penalties) if penalties else context["penalized"]
    what = " and ".join(w for w, on in (("the penalty written into the loss", on_weights), (terms, terms),
                                        (f"weight decay {fmt(context['weight_decay'])}", context["weight_decay"]),
                                        *_settings(context)) if on)
    shown = None
    outcomes, measured = [], {}
    for on, off, where in pairs:
        # The data term: with a penalty on tape, measured apart; with weight decay only, the loss is the data term.
        on_data = arms[on].data if arms[on].data is not None else (arms[on].losses[0], arms[on].losses[-1])
        off_data = arms[off].data if arms[off].data is not None else (arms[off].losses[0], arms[off].losses[-1])
        if not all(math.isfinite(v) for v in (*on_data, *off_data)):
            continue
        measured[off] = {"data_term_regularised": list(on_data), "data_term_off": list(off_data),
                         "loss": _summary(arms[off].losses)}
        outcomes.append(f"the data term reaches {fmt(off_data[1])} with it off and {fmt(on_data[1])} with it on, "
                        f"from {fmt(on_data[0])}{where}")
        # Not only a stuck baseline: a penalty on the weights that halves the data term's progress is what sets
        # where it stops. A penalty on the outputs (a KL, a sparsity) trades the task for itself by design, so
        # slowing it is its purpose: it dominates when the task does not move while it is on.
        held = not terms or _fall(on_data) < ARM_STUCK
        if shown is None and held and _unsticks(_fall(off_data), _fall(on_data)):
            shown = (on_data, off_data, where)
    if not measured:
        return []
    observations.append({
        "name": "regularisation-off", "question": f"Does the data term fall further with {what} off?",
        "measured": measured, "outcome": "; ".join(outcomes),
        "keeps": [REGULARISED] if shown else [], "kills": [SETUP, LR] if shown else [REGULARISED]})
    if shown is None:
        return []
    on_data, off_data, where = shown
    return [finding(
        "over-regularization",
        f"with {what} off, {context['steps']} steps on one batch take the data term from {fmt(off_data[0])} to "
        f"{fmt(off_data[1])}; with it on, to {fmt(on_data[1])}{where} — the regularisation, not the data, sets "
        f"where the loss stops{_floors(context.get('smoothing'))}", context["source"],
        evidence={"arms": {k: _summary(v.losses) for k, v in arms.items()}, "data_term_regularised": list(on_data),
                  "data_term_off": list(off_data), **_context(context)})]


def _settings(context: dict[str, Any]) -> list[tuple[str, bool]]:
    """The regularisers that are settings, as the observation names them: 'dropout p=0.9 (3 calls)',
    'label smoothing 0.9'."""
    drop, smooth = context.get("dropout") or [], context.get("smoothing") or []
    ps = sorted(set(drop), reverse=True)
    calls = f" ({len(drop)} calls)" if len(drop) > 1 else ""
    return [(f"dropout p={'/'.join(fmt(p) for p in ps)}{calls}", bool(drop)),
            (f"label smoothing {'/'.join(fmt(e) for e in sorted({e for e, _ in smooth}))}", bool(smooth))]


def _floors(smoothing: list[tuple[float, int]] | None) -> str:
    """What label smoothing leaves a cross-entropy: trained toward targets that put 1 - e + e/C on the true
    class and e/C on each other, its loss cannot go below their entropy, nor the unsmoothed loss below
    -log(1 - e + e/C); an uninformed model's loss is log C. A loss judged against chance is judged against these."""
    said = []
    for e, c in sorted(set(smoothing or [])):
        true, other = 1 - e + e / c, e / c
        floor = -(true * math.log(true) + (c - 1) * other * math.log(other)) if other > 0 else 0.0
        said.append(f"; label smoothing {fmt(e)} over {c} classes trains toward a probability of {fmt(true)} on the "
                    f"true class, so the smoothed loss cannot go below {fmt(floor)} (chance: {fmt(math.log(c))}) and "
                    f"the unsmoothed one below {fmt(-math.log(true))}")
    return "".join(said)


def _penalty_terms(penalties: list[dict[str, Any]] | None) -> str:
    """The loss terms that read no target, as the observation names them: 'the loss terms that read no target
    (`mean` x 50)'; empty when the penalty is on the weights alone."""
    outputs = [p for p in penalties or [] if not p["weights_only"]]
    if not outputs:
        return ""
    named = ", ".join(f"`{p['term']}` x {fmt(p['weight'])}" for p in outputs)
    return f"the loss term{'s' if len(outputs) > 1 else ''} that read{'' if len(outputs) > 1 else 's'} no target ({named})"


def _layout(arms: dict[str, Any], context: dict[str, Any], observations: list[dict[str, Any]]) -> list[Finding]:
    """Recurrent and attention layers read one leading dim as time (dim 0 with batch_first=False, their default;
    dim 1 with True). Fed a tensor whose batch is on that dim, they recur or attend over the samples. Read with
    the other dim as time, does fitting one batch carry over to another batch? A layout that matches the data
    transfers; recurring over independent samples teaches nothing about another batch, so a model built for
    its data gains nothing from the flip. A relative fall alone is not enough: a model whose outputs mix
    samples cannot fit a batch it never saw, so one that already holds another batch's loss below where the
    flip leaves it reads its samples apart as built (a model near its floor has little left to fall)."""
    base, flip = _fall(arms["baseline"].transfer), _fall(arms["other-layout"].transfer)
    layers = context["layout"]
    names = ", ".join(f"`{n}`" for n in list(layers)[:3])
    built = next(iter(layers.values()))
    time_dim, other = (1, 0) if built else (0, 1)
    # (a non-finite loss as built holds nothing below the flip)
    wrong = _unsticks(flip, base) and not arms["baseline"].transfer[-1] <= arms["other-layout"].transfer[-1]
    observations.append({
        "name": "other-layout",
        "question": f"With {names} reading dim {other} as time (batch_first={not built}) instead of dim {time_dim}, "
                    f"does fitting one batch {context['steps']} steps lower another recorded batch's loss further?",
        "measured": {"other_batch_as_built": list(arms["baseline"].transfer),
                     "other_batch_other_layout": list(arms["other-layout"].transfer)},
        "outcome": f"the other batch's loss went {_went(flip)} with batch_first={not built}, {_went(base)} as built",
        "keeps": [LAYOUT] if wrong else [], "kills": [SETUP, LR, DECOUPLED] if wrong else [LAYOUT]})
    if not wrong:
        return []
    return [finding(
        "batch-mixing",
        f"{names} read dim {time_dim} as time (batch_first={built}), but the batch holds its samples there: with "
        f"batch_first={not built}, {context['steps']} steps on one batch take another batch's loss {_went(flip)}; "
        f"as built, {_went(base)} — the layer recurs (or attends) over the samples, so each output mixes other "
        "samples", context["source"], evidence={"other_batch_as_built": list(arms["baseline"].transfer),
                                                 "other_batch_other_layout": list(arms["other-layout"].transfer),
                                                 **_context(context)},
        location={"module": next(iter(layers))})]


def _ablation(base: Any, fall: float, context: dict[str, Any], observations: list[dict[str, Any]]) -> list[Finding]:
    """The inputs ablated on the model as training left it: with each sample's inputs moved to another
    sample, do the model's outputs change at all? A model whose output depends on its inputs, however little
    it has learned from them, changes them; one whose inputs never reach the output (multiplied by zero,
    another tensor passed on) gives the same outputs to float rounding."""
    real, moved, change = base.losses[0], base.ablated["losses"], base.ablated["output_change"]
    ignored = change <= INPUTS_REACH
    observations.append({
        "name": "inputs-ablated",
        "question": "As training left the model, do its outputs change when each sample's inputs are moved "
                    f"to another sample ({len(moved)} pairings)?",
        "measured": {"real_inputs_loss": real, "inputs_moved_loss": moved, "output_change": change},
        "outcome": f"outputs moved by {fmt(change)} of their size; loss {fmt(real)} with the real inputs, "
                   f"{fmt(min(moved))}–{fmt(max(moved))} with them moved",
        "keeps": [IGNORED] if ignored else [], "kills": [] if ignored else [IGNORED]})
    if not ignored:
        return []
    return [finding(
        "input-ignored",
        f"with each sample's inputs moved to another sample, the model's outputs change by {fmt(change)} of their "
        f"size and the loss of the batch stays {fmt(real)} ({fmt(min(moved))}–{fmt(max(moved))} over {len(moved)} "
        f"pairings): the model's output does not depend on its inputs",
        context["source"],
        evidence={"fitted_batch": _summary(base.losses), "inputs_moved": base.ablated, **_context(context)})]


def _transfer(base: Any, held: dict[str, Any], context: dict[str, Any],
              observations: list[dict[str, Any]]) -> list[Finding]:
    """A permutation test on each recorded batch left out of a fit on the others: the real pairing of inputs
    and targets against SHUFFLES others. A model that learned anything from the inputs does better on the real
    pairing than on every shuffled one; when the targets do not follow the inputs, the real pairing is just one
    more pairing — and so it is when the relation is one the fit's budget cannot teach. "No relation" is
    therefore claimed only when the test has shown its power: the control pairing (targets dealt by a
    teacher's score of the inputs), fitted with the same budget, beats nearly every shuffle of it."""
    batches = held.get("batches", [held])
    control = held.get("control")
    before = all(_beats_shuffles(b["real_before"], b["shuffled_before"]) for b in batches)
    after = all(_beats_shuffles(b["real_after"], b["shuffled_after"]) for b in batches)
    blind = _blind(batches, control)
    # Judged by what the fit changed, on a copy started from the state before any update: the trained model has
    # memorised the recorded batches (the run trained on them), which favours their real pairing whatever
    # the labels.
    shares = _shares(batches)
    # A loss that goes below zero (a policy-gradient surrogate over normalised advantages) has no scale to
    # compare pairings at.
    signed = min(v for b in batches for v in (b["real_before"], b["real_after"], *b["shuffled_after"])) < 0
    powered = _powered(control)
    # A real pairing better than every shuffle on every batch, before the fit or after, carries information.
    decoupled = powered and not blind and not signed and not (before or after) and typical(batches)
    n = len(held["shuffled_after"])
    observations.append({
        "name": "held-out-batch",
        "question": f"From the model's state before any update, fitted {context['steps']} steps on "
                    f"{held.get('trained_on', 1)} recorded batches: on each recorded batch left out, is the loss with "
                    f"the real inputs lower than with the inputs moved to other samples ({n} pairings)?",
        "measured": held,
        "outcome": (f"real inputs {fmt(held['real_before'])} → {fmt(held['real_after'])}; shuffled, best of {n}: "
                    f"{fmt(min(held['shuffled_before']))} → {fmt(min(held['shuffled_after']))}; "
                    f"the fit lowered {round(shares[0] * n)} of {n} shuffled pairings more than the real one"
                    + (f" (on {len(batches)} batches: {', '.join(str(round(x * n)) for x in shares)})" if len(batches) > 1 else "")
                    + ("; the targets were moved, the inputs cannot be" if "targets" in held.get("moved", []) else "")
                    + ("; the loss goes below zero, so the test is not judged" if signed else "")
                    + _control_outcome(control, powered, n)),
        "keeps": [DECOUPLED] if decoupled else [],
        "kills": [SETUP] if decoupled else ([DECOUPLED] if before or after else [])})
    if not decoupled:
        return [f for name, part in (held.get("components") or {}).items()
                for f in _component(base, name, part, context, observations)]
    c = control[0]
    return [finding(
        "labels-decoupled",
        f"fitted {context['steps']} steps from its state before any update on {held.get('trained_on', 1)} recorded "
        f"batches, the model does no better on a batch left out with the real pairing of inputs and targets than "
        f"with inputs moved to other samples: loss {fmt(held['real_after'])} against "
        f"{fmt(min(held['shuffled_after']))}–{fmt(max(held['shuffled_after']))} for {n} shuffled pairings "
        f"(the fit lowered {', '.join(str(round(x * n)) for x in shares)} of {n} further, batch by batch). The same fit on the "
        f"same batches, their targets dealt by a function of the inputs instead, carries over ({fmt(c['real_after'])} "
        f"against {fmt(min(c['shuffled_after']))} or more): the test could see a learnable relation — the targets "
        "are no function of the inputs the model can learn", context["source"],
        evidence={"held_out": held, **_fitted(base), **_context(context)})]


def _component(base: Any, name: str, part: dict[str, Any], context: dict[str, Any],
               observations: list[dict[str, Any]]) -> list[Finding]:
    """One target component moved alone (diagnosis/components.py), judged as the whole pairing is: decoupled when
    its real pairing is a typical one after the fit, some pairing of it matters to the loss, and its control —
    that component dealt by a teacher's score of the inputs — carries over with the same budget."""
    batches, control = part["batches"], part["control"]
    n = len(batches[0]["shuffled_after"])
    blind = _blind(batches, control)
    powered = _powered(control)
    decoupled = powered and not blind and typical(batches)
    shares = ", ".join(str(round(x * n)) for x in _shares(batches))
    observations.append({
        "name": "held-out-component",
        "question": f"On each recorded batch left out of the same fit, is the loss with the real {name} lower than "
                    f"with {name} alone moved to other samples ({n} pairings)?",
        "measured": part,
        "outcome": f"the fit lowered {shares} of {n} pairings with {name} moved more than the real one"
                   + _control_outcome(control, powered, n, name),
        "keeps": [DECOUPLED] if decoupled else [], "kills": []})
    if not decoupled:
        return []
    b = batches[0]
    return [finding(
        "labels-decoupled",
        f"the targets as a whole follow the inputs, but {name} does not: fitted {context['steps']} steps from the "
        f"model's state before any update on {len(batches)} recorded batches, on each batch left out the loss "
        f"with the real {name} ({fmt(b['real_after'])}) is no lower than with {name} dealt to other samples "
        f"({fmt(min(b['shuffled_after']))}–{fmt(max(b['shuffled_after']))}; the fit lowered {shares} of {n} of "
        f"them further, batch by batch), while the same fit with {name} dealt by a function of the inputs carries "
        f"over — an augmentation applied to the inputs and not to this part of the target (a mirror without "
        f"x → 1 − x), or this column read in another order", context["source"],
        evidence={"component": name, "held_out": part, **_fitted(base), **_context(context)})]


def _fitted(base: Any) -> dict[str, Any]:
    return {"fitted_batch": _summary(base.losses)} if base is not None else {}


def unpaired(screen: dict[str, Any] | None) -> tuple[bool, list[Any]]:
    """On the model as training left it (diagnosis/permutation.py's unpaired): does the real pairing beat every
    shuffled pairing as a whole, and with each target component moved alone? A model that learned from its
    inputs gives the real pairing the lowest loss; one that learned only the targets' spread (a mean, the
    class frequencies) gives it a typical one. The whole pairing's failure, and the components that fail, call
    for the permutation test, which alone can tell a lost pairing from a relation not yet learned."""
    if screen is None:
        return False, []
    return (not _beats_shuffles(screen["real"], screen["shuffled"]),
            [p for p, losses in screen["components"].items() if not _beats_shuffles(screen["real"], losses)])


def pairing_settled(codes: Sequence[str]) -> str | None:
    """The conclusive finding (of `codes`, the errors found before the experiments) that already answers the
    permutation test's question: labels-decoupled itself, or a cause whose catalog entry explains it (targets
    laid out or placed where their inputs are not). The test could add only a finding put down to that cause,
    so it is not run; None when none does."""
    return next((c for c in codes if c == "labels-decoupled" or "labels-decoupled" in catalog.get(c).explains),
                None)


def pairing(held: dict[str, Any], context: dict[str, Any]) -> tuple[list[Finding], list[dict[str, Any]]]:
    """The permutation test alone, for a loss that learns: the findings it confirms, and its observations."""
    observations: list[dict[str, Any]] = []
    found = _transfer(None, held, context, observations)
    for f in found:
        f.evidence["confirmed_by"] = "experiment"
        f.severity = "error"
    return found, observations


def typical(batches: Sequence[dict[str, Any]]) -> bool:
    """The real pairing is a typical one: on average over the batches, the fit lowered at least TYPICAL_PAIRING of
    the shuffled pairings' losses further. Evidence for the null, not a missing win: a relation learned weakly (an RL value early
    on) leaves the real pairing among the best few, short of beating them all."""
    shares = _shares(batches)
    return sum(shares) / len(shares) >= TYPICAL_PAIRING


def _shares(batches: Sequence[dict[str, Any]], margin: float = 0.0) -> list[float]:
    """Per batch, the share of shuffled pairings whose loss the fit lowered further than the real pairing's,
    or within `margin` of the loss of it. The gain, not the loss after: the copy's random initial function
    already favours some pairings (the same ones on every batch, as the relation is the same), which says
    nothing of what the fit carried over."""
    def gain(before: float, after: float) -> float:
        return before - after
    return [sum(gain(s0, s1) > gain(b["real_before"], b["real_after"]) - margin * _scale(b)
                for s0, s1 in zip(b["shuffled_before"], b["shuffled_after"])) / len(b["shuffled_after"]) for b in batches]


def _scale(batch: dict[str, Any]) -> float:
    return max(abs(batch["real_before"]), abs(batch["real_after"]), 1e-12)


def _powered(control: Sequence[dict[str, Any]] | None) -> bool:
    """The fit carried the control relation to the batches left out: it lowered the control pairing's loss further
    than nearly every shuffle's, or left it below every shuffle's on every batch (a relation the copy already
    half-held at the start — a residual model's identity path — gains less than the shuffles, which the fit
    pulls towards the targets' mean, and still stands apart). Either by CONTROL_MARGIN of the loss: a fit that
    moved no pairing's loss (a learning rate far too low) orders them by rounding, which is no power."""
    return _learned(control) or bool(control) and all(
        _beats_shuffles(b["real_after"], b["shuffled_after"], CONTROL_MARGIN * _scale(b)) for b in control)


def _learned(control: Sequence[dict[str, Any]] | None) -> bool:
    return bool(control) and sum(_shares(control, CONTROL_MARGIN)) / len(control) <= CONTROL_PAIRING


def _blind(batches: Sequence[dict[str, Any]], control: Sequence[dict[str, Any]] | None) -> bool:
    """The test has no power on a model whose loss barely depends on which inputs meet which targets: no shuffled
    pairing moves it by PAIRING_MATTERS after the fit, on any batch — unless the same fit moved the control
    pairing's loss further than its shuffles' and by PAIRING_MATTERS at least (it resolves pairings at this
    scale; a model that learned only the targets' mean answers every pairing alike, and a fit that barely moves
    a loss dominated by the targets' scale can rank the control first by a margin far below it). Never when no
    pairing moves it at all (LOSS_DEPENDS): the inputs do not reach the loss."""
    def within(share: float, tested: Sequence[dict[str, Any]]) -> bool:
        return all(max(abs(v - b["real_after"]) for v in b["shuffled_after"]) <= share * max(abs(b["real_after"]), 1e-12)
                   for b in tested)
    resolves = _learned(control) and not within(PAIRING_MATTERS, control or [])
    return within(LOSS_DEPENDS, batches) or within(PAIRING_MATTERS, batches) and not resolves


def _control_outcome(control: list[dict[str, Any]] | None, powered: bool, n: int, dealt: str = "targets") -> str:
    if not control:
        return ""
    beaten = ", ".join(str(round(x * n)) for x in _shares(control, CONTROL_MARGIN))
    return (f"; control ({dealt} dealt by a teacher's score of the inputs): {fmt(control[0]['real_after'])} against "
            f"{fmt(min(control[0]['shuffled_after']))} or more; the fit lowered {beaten} of {n} shuffles as far or further — "
            + ("the test has the power to see a learnable relation" if powered else
               "the test cannot see a learnable relation with this budget, so it does not claim there is none"))


def _beats_shuffles(real: float, shuffled: Sequence[float], margin: float = 0.0) -> bool:
    return real < min(shuffled) - margin


def _observe_baseline(arm: Any, fall: float, context: dict[str, Any]) -> dict[str, Any]:
    fits = fall >= ARM_FITS
    return {"name": "baseline", "question": f"Does one batch fit in {context['steps']} steps with the "
                                            f"script's optimizer and settings, from where training left the model?",
            "measured": {"loss": _summary(arm.losses), **({"data_term": list(arm.data)} if arm.data else {})},
            "outcome": f"the batch's loss went {_went(fall)}",
            "keeps": [DECOUPLED, REGULARISED] if fits else [SETUP, LR, LR_HIGH, SCHEDULE, REGULARISED],
            "kills": [SETUP] if fits else []}


def _observation(name: str, question: str, arm: Any, fall: float, base: float, *, keeps: list[str],
                 kills: list[str]) -> dict[str, Any]:
    return {"name": name, "question": question, "measured": {"loss": _summary(arm.losses)},
            "outcome": f"the batch's loss went {_went(fall)} (baseline: {_went(base)})", "keeps": keeps, "kills": kills}


def _finding(code: str, arms: dict[str, Any], falls: dict[str, float], context: dict[str, Any], text: str) -> Finding:
    return finding(code, text, context["source"], evidence={"arms": {k: {**_summary(v.losses), "fall": falls[k]} for k, v in arms.items()},
                                               **_context(context)})


def _context(context: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in context.items() if v is not None and k != "source"}


def _summary(losses: Sequence[float]) -> dict[str, Any]:
    return {"first": losses[0], "last": losses[-1], "steps": len(losses) - 1}


def _went(fall: float) -> str:
    if fall == -math.inf:
        return "non-finite"
    if fall < -10:
        return f"up {fmt(1 - fall)}x"
    return f"down {_pct(fall)}" if fall >= 0 else f"up {_pct(-fall)}"


def _pct(x: float) -> str:
    return f"{x:.0%}"
