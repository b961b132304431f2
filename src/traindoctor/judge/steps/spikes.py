"""loss-spikes: one step's loss far above the recent level, undoing real progress.

Why: a spike that undoes a quarter of what training achieved is a bad batch, a numerical hazard or
an optimizer instability, and it often precedes divergence. Example: a loss of 9 at step 80 of a run
sitting near 1 (tests/judge). Known problems: heavy-tailed minibatch losses near convergence (7x a
median of 0.008) are not spikes unless they undo progress; after a divergence, jumps are the divergence;
losses summed over episodes of varying length (actor-critic in pytorch/examples: 20x single-step
jumps) are not judged, nor are losses against targets a model made in the step (a TD target's bootstrap): a
replay batch that holds a rare reward jumps the loss once, and the next batch does not.
"""

from __future__ import annotations

import statistics

from ..thresholds import SPIKE_FACTOR, SPIKE_MADS, SPIKE_MIN_HISTORY, SPIKE_SUDDEN, SPIKE_UNDO
from .base import Record, Trend, Verdict, step_rule

_REFRESH = 10  # the pre-check's median is at most this many losses old


@step_rule
class LossSpikes:
    def __init__(self) -> None:
        self.median: float | None = None
        self.since = 0

    def observe(self, r: Record, t: Trend) -> list[Verdict]:
        x = t.loss
        if x is None or t.signed or t.episodic or t.relative or t.in_baseline or t.diverged or len(t.recent) < SPIKE_MIN_HISTORY or not self._candidate(x, t):
            return []
        med = statistics.median(t.recent)
        mad = statistics.median(abs(v - med) for v in t.recent) or 1e-12
        progress = max(statistics.median(t.early_losses) - med, 0.0)
        # Sudden: most of the excess arrived in this one step. A loss that climbed there over several steps
        # (a VQ-VAE's codebook terms as codes reassign) follows a trend, which the divergence rules judge.
        sudden = x - t.recent[-1] >= SPIKE_SUDDEN * (x - med)
        if (x > med + SPIKE_MADS * 1.4826 * mad and x > SPIKE_FACTOR * med and x - med >= SPIKE_UNDO * progress
                and sudden):
            return [Verdict("loss-spikes", f"step {t.step}: loss {x:.4g} against a recent median of {med:.4g}",
                            dict(r), {"step": t.step})]
        return []

    def _candidate(self, x: float, t: Trend) -> bool:
        """Cheap pre-check: a spike is above SPIKE_FACTOR x the recent median, so anything under half of
        that over a median at most _REFRESH losses old cannot be one."""
        self.since += 1
        if self.since >= _REFRESH or self.median is None:
            self.median, self.since = statistics.median(t.recent), 0
        return x > SPIKE_FACTOR / 2 * self.median
