"""dead-relu, saturated-activations: a layer of a training model whose units stopped responding.

Why: a ReLU unit that is never positive gets no gradient and never recovers; a saturated sigmoid or
tanh passes almost none. Example: a layer 95% dead on three sampled steps in a row (tests/judge).
Known problems: the fractions are measured on the sampled steps' batches only (measure/activations.py);
trained models leave many units unused on easy tasks, hence DEAD_RELU_TRAINED, not the 50% used at
initialization by checkup.
"""

from __future__ import annotations

from ..thresholds import ACTIVATION_STREAK, DEAD_RELU_TRAINED, SATURATED
from .base import Record, Trend, Verdict, step_rule

_KINDS = (("dead_fraction", "dead-relu", DEAD_RELU_TRAINED, "units never active"),
          ("saturated_fraction", "saturated-activations", SATURATED, "outputs saturated"))


@step_rule
class Activations:
    def __init__(self) -> None:
        self.streaks: dict[tuple[str, str], int] = {}  # (kind, layer): sampled steps in a row over the threshold

    def observe(self, r: Record, t: Trend) -> list[Verdict]:
        out = []
        for kind, code, threshold, what in _KINDS:
            for layer, v in (r.get(kind) or {}).items():
                n = self.streaks[kind, layer] = self.streaks.get((kind, layer), 0) + 1 if v >= threshold else 0
                if n >= ACTIVATION_STREAK:
                    out.append(Verdict(code, f"layer `{layer}`: {v:.0%} of its {what} on the batch, for {ACTIVATION_STREAK} "
                                       f"sampled steps in a row up to step {t.step}", {kind: r[kind]},
                                       {"step": t.step, "module": layer}))
        return out
