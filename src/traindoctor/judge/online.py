"""Online rules: read each synced step record, raise findings the moment a problem starts.

Thresholds are conservative by design (a healthy run must stay silent):
- exploding gradients: the total gradient norm above 1000x the median of the first 20 monitored
  steps — the same relative rule `run` uses;
- vanishing gradients: a total gradient norm below 1e-7, the default threshold of SageMaker
  Debugger's vanishing_gradient rule, for 20 consecutive steps;
- divergence: a loss above 10x its early median (as `run`);
- spikes: a loss more than 10 robust deviations (median absolute deviation) above the median of the
  previous 50 steps, above 3x that median, and undoing at least a quarter of the progress made
  since the first steps (as `curves`: minibatch noise reaches 2-3x, and near convergence a
  classifier's minibatch loss reaches 7x a median of 0.008 on healthy runs without undoing anything);
- loss not decreasing: over the last `window` steps (default 500) the mean of the second half is not
  1% below the mean of the first half, checked once the run has 2 windows of history;
- update ratio out of range: median over the sampled steps above 0.1 or below 1e-6 (healthy ~1e-3);
- overfitting: a logged `val_loss` that rose 3 evaluations in a row while the training loss fell;
- dead ReLU: a layer with at least 90% of its units never positive on the batch, on 3 sampled steps
  in a row (see DEAD_TRAINED);
- saturation: a sigmoid/tanh layer with at least half its outputs within 1% of the range's ends,
  on 3 sampled steps in a row (the model's own output layer is not counted).
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from typing import Any

from ..vocabulary.finding import Finding, finding


# SageMaker Debugger's DeadRelu flags a layer at 50% inactive units (threshold_layer); that fits a
# model at initialization. Trained models leave many units unused on easy tasks (69% in one layer of
# the bundled healthy CNN at 100% accuracy), so the monitor, which watches trained models, uses 90%.
DEAD_TRAINED = 0.9
SATURATED = 0.5
STREAK = 3  # sampled steps in a row


class OnlineRules:
    def __init__(self, window: int = 500):
        self.window = window
        self.early_norms: list[float] = []
        self.early_losses: list[float] = []
        self.recent: deque[float] = deque(maxlen=50)
        self._median: float | None = None  # of `recent`, refreshed every 10 losses
        self._since_median = 0
        self.losses: deque[float] = deque(maxlen=2 * window)
        self.small_grads = 0
        self.ratios: list[float] = []
        self.val: list[tuple[int, float, float]] = []
        self.fired: set[str] = set()
        self.streaks: dict[tuple[str, str], int] = {}

    def _spike_candidate(self, loss: float) -> bool:
        """Cheap pre-check: a spike is above 3x the recent median, so anything under 1.5x a median at
        most 10 steps old cannot be one; the exact median and MAD are computed only past it."""
        self._since_median += 1
        if self._since_median >= 10 or self._median is None:
            self._median, self._since_median = statistics.median(self.recent), 0
        return loss > 1.5 * self._median

    def _once(self, code: str, *args: Any, **kwargs: Any) -> list[Finding]:
        if code in self.fired:
            return []
        self.fired.add(code)
        return [finding(code, *args, "monitor", **kwargs)]

    def observe(self, r: dict[str, Any]) -> list[Finding]:
        out: list[Finding] = []
        step, loss, norm = r["step"], r.get("loss"), r.get("grad_norm_before_clip", r.get("grad_norm"))
        if norm is not None and math.isfinite(norm):
            if len(self.early_norms) < 20:
                self.early_norms.append(norm)
            elif norm > 1e3 * max(statistics.median(self.early_norms), 1e-12):
                out += self._once("exploding-gradients", f"step {step}: total gradient norm {norm:.3g}, "
                                  f"{norm / statistics.median(self.early_norms):.0f}x the early median", evidence=r,
                                  location={"step": step})
            self.small_grads = self.small_grads + 1 if norm < 1e-7 else 0
            if self.small_grads >= 20:
                out += self._once("vanishing-gradients", f"total gradient norm below 1e-7 for 20 steps up to step {step}",
                                  evidence=r, location={"step": step})
        if loss is not None and math.isfinite(loss):
            if len(self.early_losses) < 5:
                self.early_losses.append(loss)
            elif min(self.early_losses) > 0 and loss > 10 * statistics.median(self.early_losses):
                out += self._once("loss-divergence", f"step {step}: loss {loss:.4g}, above 10x its early median "
                                  f"{statistics.median(self.early_losses):.4g}", evidence=r, location={"step": step})
            if len(self.recent) >= 20 and self._spike_candidate(loss):
                med = statistics.median(self.recent)
                mad = statistics.median(abs(x - med) for x in self.recent) or 1e-12
                progress = max(statistics.median(self.early_losses) - med, 0.0)
                if loss > med + 10 * 1.4826 * mad and loss > 3 * med and loss - med >= 0.25 * progress:
                    out += self._once("loss-spikes", f"step {step}: loss {loss:.4g} against a recent median of {med:.4g}",
                                      evidence=r, location={"step": step})
            self.recent.append(loss)
            self.losses.append(loss)
            if len(self.losses) == self.losses.maxlen and step % self.window == 0:
                first = statistics.mean(list(self.losses)[: self.window])
                second = statistics.mean(list(self.losses)[self.window:])
                if first > 0 and second > 0.99 * first:
                    out += self._once("loss-plateau", f"over steps {step - 2 * self.window}..{step} the loss went from a mean "
                                      f"of {first:.4g} to {second:.4g}", evidence={"first": first, "second": second},
                                      location={"step": step})
        ratio = r.get("update_ratio")
        if ratio is not None and math.isfinite(ratio):
            self.ratios.append(ratio)
            if len(self.ratios) >= 10:
                med = statistics.median(self.ratios[-10:])
                if med > 0.1:
                    out += self._once("lr-too-high", f"median update/weight ratio {med:.2g} over the last 10 samples "
                                      "(healthy ~1e-3)", severity="warning", evidence={"ratios": self.ratios[-10:]},
                                      location={"step": step})
                elif med < 1e-6:
                    out += self._once("lr-too-low", f"median update/weight ratio {med:.2g} over the last 10 samples "
                                      "(healthy ~1e-3)", evidence={"ratios": self.ratios[-10:]}, location={"step": step})
        out += self._activations(r)
        val = r.get("val_loss")
        if val is not None and math.isfinite(val) and loss is not None:
            self.val.append((step, val, loss))
            last = self.val[-4:]
            if len(last) == 4 and all(b[1] > a[1] for a, b in zip(last, last[1:])) and last[-1][2] < last[0][2]:
                out += self._once("overfitting", f"validation loss rose 3 evaluations in a row ({last[0][1]:.4g} → "
                                  f"{last[-1][1]:.4g}) while the training loss fell ({last[0][2]:.4g} → {last[-1][2]:.4g})",
                                  evidence={"evaluations": last}, location={"step": step})
        return out

    def _activations(self, r: dict[str, Any]) -> list[Finding]:
        out: list[Finding] = []
        for kind, code, threshold, what in (("dead_fraction", "dead-relu", DEAD_TRAINED, "units never active"),
                                            ("saturated_fraction", "saturated-activations", SATURATED, "outputs saturated")):
            for layer, v in (r.get(kind) or {}).items():
                n = self.streaks[kind, layer] = self.streaks.get((kind, layer), 0) + 1 if v >= threshold else 0
                if n >= STREAK:
                    out += self._once(code, f"layer `{layer}`: {v:.0%} of its {what} on the batch, for {STREAK} sampled "
                                      f"steps in a row up to step {r['step']}", evidence={kind: r[kind]},
                                      location={"step": r["step"], "module": layer})
        return out
