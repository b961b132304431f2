"""loss-sign-flipped, from the loss curve: a loss that started above zero falls without bound.

Why: the losses torch computes (cross-entropy, MSE, BCE, KL divergence, NLL of probabilities) are
bounded below, at zero or near it. A total that started positive and runs to large negative values, or
to -inf, is being driven down by a term that has no floor: a term that should be minimised entered with
the wrong sign (a closed-form KL added as -KL, a reward added as a loss), and the optimizer maximises it.
Example: a VAE whose KL term 0.5 * sum(1 + logvar - mu^2 - exp(logvar)) is added instead of subtracted:
the loss falls from +540 through -10^4 to -inf within a few hundred steps (bench/diagnosis).
Known problems: a Gaussian likelihood with a learned variance legitimately goes negative as the variance
shrinks; UNBOUNDED_FACTOR x its early magnitude (about e^-10 of the starting spread) is beyond healthy fits.
A loss that is negative from the start, or that comes back above zero after going below it (a
policy-gradient surrogate swinging with its returns), is not judged.
"""

from __future__ import annotations

from ..thresholds import MIN_STEPS, UNBOUNDED_FACTOR
from ...vocabulary.numbers import finite, fmt
from .base import Record, Trend, Verdict, step_rule


@step_rule
class LossUnboundedBelow:
    def __init__(self) -> None:
        self.done = False
        self.crossed = False  # the loss went below zero
        self.swung = False  # ... and came back above it: a signed surrogate's swings, not a runaway
        self.below = 0  # records in a row below the limit: a runaway stays there, a swing does not

    def observe(self, r: Record, t: Trend) -> list[Verdict]:
        if t.loss is not None:
            self.swung = self.swung or (self.crossed and t.loss > 0)
            self.crossed = self.crossed or t.loss < 0
        start = t.first_losses[0] if t.first_losses else None
        if self.done or self.swung or start is None or start <= 0:
            return []
        scale = max(abs(x) for x in t.first_losses)  # the early swing, not only the first value
        loss = r.get("loss")
        lowest = min(t.last_losses, default=start)
        self.below = self.below + 1 if t.loss is not None and t.loss < -UNBOUNDED_FACTOR * scale else 0
        if self.below >= MIN_STEPS:
            how = f"fell to {fmt(t.loss)} by step {t.step}, below {fmt(-UNBOUNDED_FACTOR * scale)} for {self.below} steps"
        elif loss is not None and not finite(loss) and self.crossed:
            how = f"fell below zero (to {fmt(lowest)}) and then turned {fmt(loss)} at step {t.step}"
        else:
            return []
        self.done = True
        # at_nonfinite: the fall is read from the non-finite value alone, which something else may have made
        return [Verdict("loss-sign-flipped", f"the loss started at {fmt(start)} and {how}: the losses torch computes "
                        "are bounded below, so a term with no floor is being maximized — one that entered the total "
                        "with the wrong sign", {"start": start, "lowest": lowest, "step": t.step,
                                                "at_nonfinite": self.below < MIN_STEPS}, {"step": t.step})]
