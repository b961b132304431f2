"""clipping-every-step: gradient clipping cuts nearly every step's gradient to a small fraction.

Why: `clip_grad_norm_` rescales the gradient to `max_norm` when it is longer. Cutting an occasional
spike is what it is for; when almost every step is cut by a large factor, the step size is set by
lr x max_norm, not by the gradient, and the clip hides a loss scale or learning rate out of range
(changing max_norm then silently changes training).
Example: `clip_grad_norm_(model.parameters(), 0.01)` on gradients of norm ~1 (tests/judge, tests/run).
Known problems: large models clip often early in training (norms of 1-5 with max_norm 1), and
policy-gradient methods clip by design, so only cuts by more than CLIP_FACTOR on CLIP_SHARE of
CLIP_STEPS measured steps count, and the finding is information, not a warning. Needs both norms:
`run` and the Monitor record the norm before clipping when `clip_grad_norm_` is called.
"""

from __future__ import annotations

from collections import deque

from ..thresholds import CLIP_FACTOR, CLIP_SHARE, CLIP_STEPS
from ...vocabulary.numbers import finite, fmt
from .base import Record, Trend, Verdict, step_rule


@step_rule
class ClippingEveryStep:
    def __init__(self) -> None:
        self.cuts: deque[float] = deque(maxlen=CLIP_STEPS)  # norm before / after clipping, per measured step

    def observe(self, r: Record, t: Trend) -> list[Verdict]:
        before, after = r.get("grad_norm_before_clip"), r.get("grad_norm")
        if not (finite(before) and finite(after)) or after <= 0:
            return []
        self.cuts.append(before / after)
        heavy = sum(c > CLIP_FACTOR for c in self.cuts)
        if len(self.cuts) < CLIP_STEPS or heavy < CLIP_SHARE * CLIP_STEPS:
            return []
        return [Verdict("clipping-every-step", f"gradient clipping cut the gradient norm by more than {CLIP_FACTOR:g}x on "
                        f"{heavy} of the last {CLIP_STEPS} measured steps (to step {t.step}; the last from "
                        f"{fmt(before)} to {fmt(after)})", {"cuts": list(self.cuts), "step": t.step}, {"step": t.step})]
