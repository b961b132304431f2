"""loss-divergence and lr-too-high: the loss left where it started for good, and whether large
updates came before it.

Why: updates that move the weights by a tenth of their size or more on every step overshoot; the
loss then climbs or turns non-finite, and the learning rate is the cause to check first.
Example: SGD at lr=10 on a small MLP: update ratios of 10^0 then a NaN loss at step 3 (tests/run).
Known problems: online, a loss that diverges and comes back within DIVERGENCE_WINDOW steps counts
once; a NaN on a steady or falling loss (a bad batch, log(0)) is not blamed on the learning rate.
Large updates alone are not a finding: the bundled healthy CNN with SGD sustains a median ratio of
10^-0.9; they are, when the steps keep throwing the loss above OVERSHOOT x where it started.
"""

from __future__ import annotations

import statistics

from ..thresholds import OVERSHOOT, OVERSHOOTS, RATIO_WINDOW
from ...vocabulary.numbers import power
from .base import Record, Trend, Verdict, step_rule


@step_rule
class LrTooHigh:
    def observe(self, r: Record, t: Trend) -> list[Verdict]:
        if t.diverged_now:
            return self._before_divergence(r, t)
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


@step_rule
class LossDivergence:
    def observe(self, r: Record, t: Trend) -> list[Verdict]:
        if not (t.diverged_now and t.diverged[2]):  # a finite blow-up; non-finite ones are the non-finite rule's
            return []
        at, how, _ = t.diverged
        return [Verdict("loss-divergence", how, {"start": t.base, "step": at}, {"step": at})]
