"""Rules over step series, written once: one module per rule, each with its docs (what, why, an
example, known problems) beside its code.

The Monitor feeds each step record as it syncs, `run` feeds its recorded steps after the script
stopped (one `StepRules` per optimizer, judge/loop.py), `traindoctor report` the records read back
from monitor.jsonl, and `curves` the rows of a log that carry the same quantities. A rule reads the
record in hand and what earlier records left (`Trend`, base.py), so the four agree: a finding at
step t never depends on a later step. Numbers come from judge/thresholds.py.

| module | code | fires when |
|---|---|---|
| gradients.py | exploding-gradients | norm > EXPLODE_FACTOR x the median of the first EXPLODE_BASELINE_STEPS |
| gradients.py | vanishing-gradients | 0 < norm < VANISHING_NORM for VANISHING_STEPS steps in a row, the loss above FITTED_LOSS x its start |
| divergence.py | loss-divergence | median of the last DIVERGENCE_WINDOW losses per term > DIVERGENCE_FACTOR x the start |
| divergence.py | lr-too-high | a divergence after an update ratio >= LARGE_UPDATE (error); a jump above DIVERGENCE_FACTOR x the start after one, and SLOW_MIN_LOSSES losses since no lower than the start (error); large ratios while OVERSHOOTS losses went above OVERSHOOT x the start (warning) |
| lr_low.py | lr-too-low | median ratio < SMALL_UPDATE while the loss moved < SLOW_LOSS_GAIN, the rate not rising |
| spikes.py | loss-spikes | see SPIKE_* |
| plateau.py | loss-plateau | second half of 2 x PLATEAU_WINDOW steps not PLATEAU_WINDOW_GAIN below the first |
| overfitting.py | overfitting | validation loss rose OVERFIT_RISES evaluations in a row while the training loss fell |
| activations.py | dead-relu, saturated-activations | a layer over DEAD_RELU_TRAINED / SATURATED for ACTIVATION_STREAK samples |
| unbounded.py | loss-sign-flipped | a loss that started positive falls below -UNBOUNDED_FACTOR x its start, or turns non-finite after going negative |
| clipping.py | clipping-every-step | the norm before clipping over CLIP_FACTOR x the norm after on CLIP_SHARE of CLIP_STEPS steps |

Adding a rule: a module here with a class decorated `@step_rule` (`observe(record, trend) -> list[Verdict]`),
its code in the catalog, its tests in tests/judge/test_steps.py (docs/architecture.md shows one).
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import TYPE_CHECKING

from ...vocabulary.finding import Finding, finding
from ..thresholds import PLATEAU_WINDOW
from .base import RULES, Record, Trend

if TYPE_CHECKING:
    import torch

for _module in pkgutil.iter_modules(__path__):  # every rule module registers its classes on import
    importlib.import_module(f"{__name__}.{_module.name}")


class StepRules:
    """Judge one optimizer's step records, one at a time. `label` prefixes observations (run names the
    optimizer); `optimizer` tells adaptive optimizers apart (None: treated as possibly adaptive)."""

    def __init__(self, source: str, *, label: str = "", optimizer: torch.optim.Optimizer | None = None,
                 window: int = PLATEAU_WINDOW):
        self.source, self.label = source, label
        self.trend = Trend(optimizer, window)
        self.rules = [cls() for cls in RULES]
        self.fired: set[tuple[str, str | None]] = set()  # (code, severity): an error may follow a warning

    def observe(self, r: Record) -> list[Finding]:
        self.trend.update(r)
        out = []
        for rule in self.rules:
            for v in rule.observe(r, self.trend):
                if (v.code, v.severity) not in self.fired:
                    self.fired.add((v.code, v.severity))
                    out.append(finding(v.code, self.label + v.observation, self.source, evidence=v.evidence,
                                       location=v.location, severity=v.severity))
        self.trend.settle()
        return out
