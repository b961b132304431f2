"""overfitting (online): a logged validation loss rising evaluation after evaluation while the
training loss falls.

Why: past that point more training makes the model worse on new data. Example: `val_loss` logged
every 20 steps rising 1.0 -> 1.8 while the loss falls (tests/judge). Known problems: needs a
`val_loss` in the records; a noisy validation loss that rises OVERFIT_RISES times by chance fires
(whole logs are judged with a trend test by judge/series.py).
"""

from __future__ import annotations

from ..thresholds import OVERFIT_RISES
from ...vocabulary.numbers import finite
from .base import Record, Trend, Verdict, step_rule


@step_rule
class Overfitting:
    def __init__(self) -> None:
        self.evaluations: list[tuple[object, float, float]] = []  # (step, validation loss, training loss)

    def observe(self, r: Record, t: Trend) -> list[Verdict]:
        val, loss = r.get("val_loss"), r.get("loss")
        if not finite(val) or not finite(loss):
            return []
        self.evaluations.append((t.step, val, loss))
        last = self.evaluations[-(OVERFIT_RISES + 1):]
        if len(last) <= OVERFIT_RISES or not all(b[1] > a[1] for a, b in zip(last, last[1:])) or last[-1][2] >= last[0][2]:
            return []
        return [Verdict("overfitting", f"validation loss rose {OVERFIT_RISES} evaluations in a row ({last[0][1]:.4g} → "
                        f"{last[-1][1]:.4g}) while the training loss fell ({last[0][2]:.4g} → {last[-1][2]:.4g})",
                        {"evaluations": last}, {"step": t.step})]
