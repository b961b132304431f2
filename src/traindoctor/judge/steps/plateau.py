"""loss-plateau (online): the loss stopped improving over two windows of steps.

Why: a run that burns compute without progress. Example: a loss at 2.3 +/- 0.01 for 1000 steps.
Known problems: judged every `window` steps once 2 x window losses were seen (PLATEAU_WINDOW by
default, `StepRules(window=...)`), so short runs are not judged; whole logs are judged by judge/series.py instead.
"""

from __future__ import annotations

import statistics
from collections import deque

from ..thresholds import PLATEAU_WINDOW_GAIN
from ...vocabulary.numbers import finite
from .base import Record, Trend, Verdict, step_rule


@step_rule
class LossPlateau:
    def __init__(self) -> None:
        self.losses: deque[float] | None = None

    def observe(self, r: Record, t: Trend) -> list[Verdict]:
        if t.loss is None or t.signed:
            return []
        self.window = t.plateau_window
        self.losses = self.losses if self.losses is not None else deque(maxlen=2 * self.window)
        self.losses.append(t.loss)
        if len(self.losses) < self.losses.maxlen or not finite(t.step) or t.step % self.window:
            return []
        first = statistics.mean(list(self.losses)[: self.window])
        second = statistics.mean(list(self.losses)[self.window:])
        if first > 0 and second > (1 - PLATEAU_WINDOW_GAIN) * first:
            return [Verdict("loss-plateau", f"over steps {t.step - 2 * self.window}..{t.step} the loss went from a mean "
                            f"of {first:.4g} to {second:.4g}", {"first": first, "second": second}, {"step": t.step})]
        return []
