"""lr-too-low: updates too small to move the weights, and a loss that does not move either.

Why: with a learning rate orders of magnitude too small the run looks healthy (finite, smooth) and
learns nothing. Example: Adam at lr=1e-8 on a small MLP: ratios near 10^-8, the loss flat (tests/run).
Known problems: small updates with a falling loss are no finding (a converged model, a large model's
tiny per-weight steps); nor while a schedule is still raising the rate (warm-up).
A loss averaged over N terms gives plain SGD steps 1/N of those of their sum: when the factor N alone
would bring the updates within a decade of healthy (USABLE_UPDATE), the observation names the mean (a
rate tuned for a sum).
"""

from __future__ import annotations

import statistics

from ..thresholds import RATIO_WINDOW, SLOW_LOSS_GAIN, SLOW_MIN_LOSSES, SMALL_UPDATE, USABLE_UPDATE
from ...vocabulary.numbers import finite, fmt, power
from .base import Record, Trend, Verdict, step_rule


@step_rule
class LrTooLow:
    def observe(self, r: Record, t: Trend) -> list[Verdict]:
        window = t.ratio_window()
        if not finite(r.get("update_ratio")) or len(window) < RATIO_WINDOW or t.diverged or t.signed or t.n_losses < SLOW_MIN_LOSSES:
            return []
        med = statistics.median(x for x, _ in window)
        if med >= SMALL_UPDATE or t.warming_up():
            return []
        head, tail = statistics.mean(t.first_losses), statistics.mean(t.last_losses)
        if head <= 0 or (head - tail) / head >= SLOW_LOSS_GAIN:
            return []
        said = (f"median update/parameter ratio {power(med)} (healthy: near 10^-3); the loss went from {fmt(head)} "
                f"to {fmt(tail)} in {t.n_losses} steps")
        evidence = {"median_update_ratio": med, "loss_first": head, "loss_last": tail}
        n = t.mean_of
        if n is not None and t.gradient_scaled() and med * n >= USABLE_UPDATE:
            said += (f"; the loss is a mean of {n} terms, so each step is 1/{n} of the step of their sum: a rate "
                     f"tuned for the sum is {n}x too small here (it would give ratios near {power(med * n)}) — sum "
                     f"the loss over its elements, or multiply the rate by {n}")
            evidence["averaged_terms"] = n
        return [Verdict("lr-too-low", said, evidence, {"step": t.step})]
