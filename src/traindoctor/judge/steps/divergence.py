"""loss-divergence and lr-too-high: the loss left where it started for good, and whether large
updates came before it; or it blew up, came back, and never got below where it started (the blow-up
killed units, and what is left of the model cannot learn).

Why: updates that move the weights by a tenth of their size or more on every step overshoot; the
loss then climbs or turns non-finite, and the learning rate is the cause to check first.
Example: SGD at lr=10 on a small MLP: update ratios of 10^0 then a NaN loss at step 3 (tests/run).
Known problems: online, a loss that diverges and comes back within DIVERGENCE_WINDOW steps counts
once; a loss against a target a model made (a TD target) is read relative to that target's scale
(base.py), so values that run away with their own targets keep pace with them and are found only when
they turn non-finite; a NaN on a steady or falling loss (a bad batch, log(0)) is not blamed on the learning rate.
Large updates alone are not a finding: the bundled healthy CNN with SGD sustains a median ratio of
10^-0.9; they are, when the steps keep throwing the loss above OVERSHOOT x where it started.
A loss summed over N terms (reduction='sum', per-sample losses .sum()-ed) gives plain SGD steps N
times those of their mean: with such a loss and such an optimizer the observation names the sum as
the likely cause (a rate tuned for a mean); Adam-like optimizers divide the scale away and are not named, nor
are a few objectives added up (up to BALANCE_MAX_TERMS pieces: their weights set the scale, not their count).
"""

from __future__ import annotations

import statistics

from ..thresholds import BALANCE_MAX_TERMS, DIVERGENCE_FACTOR, OVERSHOOT, OVERSHOOTS, RATIO_WINDOW, SLOW_LOSS_GAIN, SLOW_MIN_LOSSES
from ...vocabulary.numbers import fmt, power
from .base import Record, Trend, Verdict, step_rule


@step_rule
class LrTooHigh:
    def observe(self, r: Record, t: Trend) -> list[Verdict]:
        return [_summed(v, t) for v in self._verdicts(r, t)]

    def _verdicts(self, r: Record, t: Trend) -> list[Verdict]:
        if t.diverged_now:
            return self._before_divergence(r, t)
        if not t.diverged and (collapse := self._collapse(t)):
            return collapse
        window = t.ratio_window()
        if t.diverged or t.overshoots < OVERSHOOTS or len(window) < RATIO_WINDOW:
            return []
        if statistics.median(x / large for x, large in window) < 1:
            return []
        ratios = [x for x, _ in window]
        med = statistics.median(ratios)
        return [Verdict("lr-too-high", f"median update/parameter ratio {power(med)} over the last {RATIO_WINDOW} "
                        f"measurements (healthy training sits near 10^-3), and {t.overshoots} steps threw the loss above "
                        f"{OVERSHOOT:g}x where it started", {"update_ratios": ratios, "median_update_ratio": med,
                                                             "overshoots": t.overshoots},
                        {"step": t.step}, severity="warning")]

    def _before_divergence(self, r: Record, t: Trend) -> list[Verdict]:
        at, how, _ = t.diverged
        before = [(x, large) for s, x, large in t.ratios if s is None or at is None or s < at]
        if not any(x >= large for x, large in before):
            return []
        values = [x for x, _ in before]
        return [Verdict("lr-too-high", f"{how}; before it, update/parameter ratios reached {power(max(values))} "
                        f"(median {power(statistics.median(values))}; healthy training sits near 10^-3)",
                        {"divergence_step": at, "update_ratios": values[:20], "lr": t.first_lr}, {"step": at})]

    def _collapse(self, t: Trend) -> list[Verdict]:
        """A blow-up that came back, after large updates, with the loss no lower than where it started for
        SLOW_MIN_LOSSES losses since: too short to read as divergence, long enough to leave units dead."""
        base, peak = t.base, t.peak
        if (base is None or base <= 0 or peak is None or t.signed or t.episodic or peak[1] <= DIVERGENCE_FACTOR * base
                or t.since_peak < SLOW_MIN_LOSSES or statistics.mean(t.last_losses) < (1 - SLOW_LOSS_GAIN) * base):
            return []
        at = peak[0]
        pairs = [(x, large) for s, x, large in t.ratios if at is None or s is None or s < at]
        if not any(x >= large for x, large in pairs):
            return []
        before = [x for x, _ in pairs]
        tail = statistics.mean(t.last_losses)
        what = t.loss_name()
        return [Verdict("lr-too-high", f"{what} jumped from {fmt(base)} to {fmt(peak[1])} at step {at} after update/"
                        f"parameter ratios of {power(max(before))} (healthy training sits near 10^-3), and {t.since_peak} "
                        f"losses later it is still no lower than where it started ({fmt(tail)})",
                        {"blowup_step": at, "update_ratios": before[:20], "loss_start": base, "loss_peak": peak[1],
                         "loss_last": tail, "lr": t.first_lr}, {"step": at})]


def _summed(v: Verdict, t: Trend) -> Verdict:
    """Name a loss summed over N terms as the likely cause when the optimizer's steps scale with it."""
    n = t.summed
    # A handful of pieces added up are separate objectives (a task plus 100 x an auxiliary term): their weights,
    # not their count, set the loss's scale, and dividing by the count would not undo it.
    if n is None or n <= BALANCE_MAX_TERMS or not t.gradient_scaled():
        return v
    v.observation += (f"; the loss is a sum of {n} terms (reduction='sum', or per-sample losses summed), so each "
                      f"step is {n}x the step of their mean: a rate tuned for the mean is {n}x too large here — "
                      f"average the loss, or divide the rate by {n}")
    v.evidence["summed_terms"] = n
    return v


@step_rule
class LossDivergence:
    def observe(self, r: Record, t: Trend) -> list[Verdict]:
        if not (t.diverged_now and t.diverged[2]):  # a finite blow-up; non-finite ones are the non-finite rule's
            return []
        at, how, _ = t.diverged
        return [Verdict("loss-divergence", how, {"start": t.base, "step": at}, {"step": at})]
