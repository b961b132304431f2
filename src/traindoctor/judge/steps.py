"""Rules over step series, written once.

The Monitor feeds each step record as it syncs, `run` feeds its recorded steps after the script
stopped (one `StepRules` per optimizer), `traindoctor report` the records read back from
monitor.jsonl, and `curves` the rows of a log that carry the same quantities. A rule reads only
the record in hand and what earlier records left in its state, so the four agree: a finding at
step t never depends on a later step.

A record is a mapping with any of: `step`, `optimizer_step`, `loss`, `loss_terms` (the loss sums
this many terms), `grad_norm`, `grad_norm_before_clip`, `update_ratio`, `lr` (one per parameter
group), `val_loss`, `dead_fraction` / `saturated_fraction` ({layer: fraction}). Missing keys are
not judged. Numbers come from judge/thresholds.py, where each has its source.

| code | fires when |
|---|---|
| exploding-gradients | norm > EXPLODE_FACTOR x the median of the first EXPLODE_BASELINE_STEPS norms |
| vanishing-gradients | 0 < norm < VANISHING_NORM for VANISHING_STEPS steps in a row |
| loss-divergence | the median of the last DIVERGENCE_WINDOW losses per term > DIVERGENCE_FACTOR x the start |
| lr-too-high (error) | a divergence (or a non-finite loss/gradient on a rising loss) after an update ratio >= LARGE_UPDATE |
| lr-too-high (warning) | median of the last RATIO_WINDOW ratios >= LARGE_UPDATE and OVERSHOOTS losses above OVERSHOOT x the start |
| lr-too-low | median ratio < SMALL_UPDATE while the loss moved < SLOW_LOSS_GAIN, the rate not rising (warm-up) |
| loss-spikes | see SPIKE_* |
| loss-plateau | second half of 2 x PLATEAU_WINDOW steps not PLATEAU_WINDOW_GAIN below the first |
| overfitting | validation loss rose OVERFIT_RISES evaluations in a row while the training loss fell |
| dead-relu, saturated-activations | a layer over DEAD_RELU_TRAINED / SATURATED for ACTIVATION_STREAK samples |

Large updates alone are not a finding: a healthy CNN trained with SGD (examples/healthy_cnn.py)
sustains a median ratio of 10^-0.9; they are the cause of a divergence that follows them, or of steps
that keep throwing the loss above where it started.

Known limits: the first EXPLODE_BASELINE_STEPS norms are the baseline, so a run that explodes from
its first step is judged by the non-finite rule or not at all; online rules cannot look ahead, so a
loss that diverges and recovers within the window still counts as divergence once.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from typing import Any, Mapping

import torch

from ..vocabulary.finding import Finding, finding
from .thresholds import (ACTIVATION_STREAK, DEAD_RELU_TRAINED, DIVERGENCE_BASELINE_STEPS, DIVERGENCE_FACTOR,
                         DIVERGENCE_WINDOW, EXPLODE_BASELINE_STEPS, EXPLODE_FACTOR, LARGE_UPDATE, LOSS_ENDS,
                         OVERFIT_RISES, PLATEAU_WINDOW, PLATEAU_WINDOW_GAIN, RATIO_WINDOW, SATURATED,
                         SECOND_MOMENT_STATE, SECOND_MOMENT_WARMUP, SIGN_LIKE_LARGE_UPDATE, SLOW_LOSS_GAIN,
                         SLOW_MIN_LOSSES, SMALL_UPDATE, OVERSHOOT, OVERSHOOTS, SPIKE_FACTOR, SPIKE_HISTORY, SPIKE_MADS, SPIKE_UNDO,
                         VANISHING_NORM, VANISHING_STEPS)

Record = Mapping[str, Any]


_ADAPTIVE = (torch.optim.Adam, torch.optim.AdamW, torch.optim.Adamax, torch.optim.NAdam, torch.optim.RAdam,
             torch.optim.RMSprop, torch.optim.Adagrad, torch.optim.Adadelta, torch.optim.SparseAdam)


def second_moment(opt: torch.optim.Optimizer | None) -> bool | None:
    """Whether the optimizer divides by a running second moment (Adam family, RMSprop, Adagrad): read
    from its state once it has one (any optimizer, torch's or not), else from its class; None without
    an optimizer (a log read back)."""
    if opt is None:
        return None
    state = next(iter(opt.state.values()), None)
    if state:
        return any(k in state for k in SECOND_MOMENT_STATE)
    return isinstance(opt, _ADAPTIVE)


def fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.4g}"


def power(x: float) -> str:
    """An update/weight ratio as a power of ten, the way the ~1e-3 rule of thumb is stated."""
    return f"10^{math.log10(x):.1f}" if x > 0 else "0 (the weights did not move)"


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


class StepRules:
    """Judge one optimizer's step records, one at a time. `label` prefixes observations (run names the
    optimizer); `optimizer` tells adaptive optimizers apart (None: treated as possibly adaptive)."""

    def __init__(self, source: str, *, label: str = "", optimizer: torch.optim.Optimizer | None = None,
                 window: int = PLATEAU_WINDOW):
        self.source, self.label, self.optimizer, self.window = source, label, optimizer, window
        self.fired: set[tuple[str, str | None]] = set()  # (code, severity): an error may follow a warning
        self.early_norms: list[float] = []
        self.small_grads = 0
        self.early_losses: list[float] = []
        self.first_losses: list[float] = []
        self.last_losses: deque[float] = deque(maxlen=LOSS_ENDS)
        self.n_losses = 0
        self.overshoots = 0  # losses above OVERSHOOT x the start, after the first steps
        self.last_loss: float | None = None
        self.divergence_window: deque[tuple[int, float]] = deque(maxlen=DIVERGENCE_WINDOW)
        self.diverged = False
        self.recent: deque[float] = deque(maxlen=SPIKE_HISTORY)
        self._median: float | None = None  # of `recent`, refreshed every 10 losses
        self._since_median = 0
        self.losses: deque[float] = deque(maxlen=2 * window)
        self.ratios: list[tuple[Any, float, float]] = []  # (step, ratio, what counts as large at that step)
        self.ratio_lrs: deque[float] = deque(maxlen=RATIO_WINDOW)
        self.skipped = 0  # 1 once the first update's ratio was seen: it measures the initial step size, not the rate
        self.val: list[tuple[int, float, float]] = []
        self.streaks: dict[tuple[str, str], int] = {}

    def observe(self, r: Record) -> list[Finding]:
        step = r.get("step")
        out = self._gradients(r, step)
        out += self._loss(r, step)
        out += self._updates(r, step)
        out += self._validation(r, step)
        out += self._activations(r, step)
        return out

    # ── helpers ─────────────────────────────────────────────────────────────
    def _once(self, code: str, observation: str, **kwargs: Any) -> list[Finding]:
        key = (code, kwargs.get("severity"))
        if key in self.fired:
            return []
        self.fired.add(key)
        return [finding(code, self.label + observation, self.source, **kwargs)]

    def _large(self, r: Record) -> float:
        """The update ratio that counts as large at this step: adaptive optimizers' first steps move every
        weight by about lr whatever the gradient."""
        adaptive = second_moment(self.optimizer) if self.optimizer is not None else None
        opt_step = r.get("optimizer_step", r.get("step", 0))
        if adaptive is not False and opt_step is not None and opt_step < SECOND_MOMENT_WARMUP:
            return SIGN_LIKE_LARGE_UPDATE
        return LARGE_UPDATE

    # ── gradients ───────────────────────────────────────────────────────────
    def _gradients(self, r: Record, step: Any) -> list[Finding]:
        raw = r.get("grad_norm_before_clip")
        norm = raw if raw is not None else r.get("grad_norm")  # clipping hides explosions from the post-clip norm
        if not _finite(norm):
            return []
        out: list[Finding] = []
        if len(self.early_norms) < EXPLODE_BASELINE_STEPS:
            self.early_norms.append(norm)
        else:
            early = statistics.median(self.early_norms)
            if early > 0 and norm > EXPLODE_FACTOR * early:
                out += self._once("exploding-gradients", f"total gradient norm grew from {fmt(early)} (median of the "
                                  f"first {EXPLODE_BASELINE_STEPS} steps) to {fmt(norm)} at step {step}, "
                                  f"{norm / early:.0f}x", evidence={"early": early, "peak": norm, "step": step},
                                  location={"step": step})
        self.small_grads = self.small_grads + 1 if 0 < norm < VANISHING_NORM else 0
        if self.small_grads >= VANISHING_STEPS:
            out += self._once("vanishing-gradients", f"total gradient norm below {VANISHING_NORM:g} for "
                              f"{VANISHING_STEPS} steps in a row up to step {step}", evidence={"grad_norm": norm, "step": step},
                              location={"step": step})
        return out

    # ── loss ────────────────────────────────────────────────────────────────
    def _loss(self, r: Record, step: Any) -> list[Finding]:
        loss, grad = r.get("loss"), r.get("grad_norm")
        if (loss is not None and not _finite(loss)) or (grad is not None and not _finite(grad)):
            if r.get("nonfinite_inputs") or not self._rising():  # a NaN batch, or a sudden NaN on a steady loss
                self.diverged = True
                return []
            return self._diverged(r, f"the loss was {fmt(loss)} and the gradient norm {fmt(grad)} at step {step}", step)
        if loss is None:
            return []
        x = loss / r.get("loss_terms", 1)  # per summed term: a sum over a growing episode rises without diverging
        self.last_loss = x
        per_term = "the loss per summed term" if "loss_terms" in r else "the loss"
        out: list[Finding] = []
        self.n_losses += 1
        if len(self.first_losses) < LOSS_ENDS:
            self.first_losses.append(x)
        self.last_losses.append(x)
        if len(self.early_losses) < DIVERGENCE_BASELINE_STEPS:
            self.early_losses.append(x)
        else:
            base = min(self.early_losses[0], statistics.median(self.early_losses))
            self.overshoots += base > 0 and x > OVERSHOOT * base
            self.divergence_window.append((step, x))
            limit = DIVERGENCE_FACTOR * base
            if (base > 0 and len(self.divergence_window) == DIVERGENCE_WINDOW
                    and statistics.median(v for _, v in self.divergence_window) > limit):
                at, v = next((s, v) for s, v in self.divergence_window if v > limit)
                how = f"{per_term} rose from {fmt(base)} to {fmt(v)} at step {at} and stayed above {fmt(limit)}"
                out += self._diverged(r, how, at)
                out += self._once("loss-divergence", how, evidence={"start": base, "loss": v, "step": at},
                                  location={"step": at})
            out += self._spike(x, step, r)
        self.losses.append(x)
        if len(self.losses) == self.losses.maxlen and _finite(step) and step % self.window == 0:
            first = statistics.mean(list(self.losses)[: self.window])
            second = statistics.mean(list(self.losses)[self.window:])
            if first > 0 and second > (1 - PLATEAU_WINDOW_GAIN) * first:
                out += self._once("loss-plateau", f"over steps {step - 2 * self.window}..{step} the loss went from a mean "
                                  f"of {first:.4g} to {second:.4g}", evidence={"first": first, "second": second},
                                  location={"step": step})
        return out

    def _spike(self, x: float, step: Any, r: Record) -> list[Finding]:
        out: list[Finding] = []
        if len(self.recent) >= 20 and not self.diverged and self._spike_candidate(x):  # after a divergence, jumps are it
            med = statistics.median(self.recent)
            mad = statistics.median(abs(v - med) for v in self.recent) or 1e-12
            progress = max(statistics.median(self.early_losses) - med, 0.0)
            if x > med + SPIKE_MADS * 1.4826 * mad and x > SPIKE_FACTOR * med and x - med >= SPIKE_UNDO * progress:
                out += self._once("loss-spikes", f"step {step}: loss {x:.4g} against a recent median of {med:.4g}",
                                  evidence=dict(r), location={"step": step})
        self.recent.append(x)
        return out

    def _spike_candidate(self, x: float) -> bool:
        """Cheap pre-check: a spike is above SPIKE_FACTOR x the recent median, so anything under half of
        that over a median at most 10 steps old cannot be one; the exact median and MAD come after."""
        self._since_median += 1
        if self._since_median >= 10 or self._median is None:
            self._median, self._since_median = statistics.median(self.recent), 0
        return x > SPIKE_FACTOR / 2 * self._median

    def _rising(self) -> bool:
        """Whether the loss had risen above where it started before turning non-finite (or turned in the
        first steps): a blow-up the updates can explain. A NaN on a steady or falling loss came from
        elsewhere (a bad batch, a log of 0) — the non-finite rule localises it."""
        if self.last_loss is None or len(self.early_losses) < DIVERGENCE_BASELINE_STEPS:
            return True
        return self.last_loss > min(self.early_losses[0], statistics.median(self.early_losses))

    def _diverged(self, r: Record, how: str, at: Any) -> list[Finding]:
        """Training blew up here: if updates were already large before it, the learning rate is the cause."""
        if self.diverged:
            return []
        self.diverged = True
        before = [(s, x, large) for s, x, large in self.ratios if s is None or at is None or s < at]
        if not any(x >= large for _, x, large in before):
            return []
        values = [x for _, x, _ in before]
        return self._once("lr-too-high", f"{how}; before it, update/parameter ratios reached {power(max(values))} "
                          f"(median {power(statistics.median(values))}; healthy training sits near 10^-3)",
                          evidence={"divergence_step": at, "update_ratios": values[:20], "lr": r.get("lr")},
                          location={"step": at})

    # ── update sizes ────────────────────────────────────────────────────────
    def _updates(self, r: Record, step: Any) -> list[Finding]:
        ratio = r.get("update_ratio")
        if not _finite(ratio):
            return []
        self.ratios.append((step, ratio, self._large(r)))
        lr = r.get("lr")
        self.ratio_lrs.append(max(lr) if isinstance(lr, (list, tuple)) and lr else lr if _finite(lr) else math.nan)
        if r.get("optimizer_step", step) == 0:
            self.skipped = 1
        window = [x for _, x, _ in self.ratios[self.skipped:]][-RATIO_WINDOW:]
        if len(window) < RATIO_WINDOW:
            return []
        med = statistics.median(window)
        if not self.diverged and self.overshoots >= OVERSHOOTS and statistics.median(x / large for x, large in
                                                                           zip(window, self._larges())) >= 1:
            return self._once("lr-too-high", f"median update/parameter ratio {power(med)} over the last {RATIO_WINDOW} "
                              f"measurements (healthy training sits near 10^-3), and {self.overshoots} steps threw the loss "
                              f"above {OVERSHOOT:g}x where it started", severity="warning",
                              evidence={"update_ratios": window, "median_update_ratio": med, "overshoots": self.overshoots},
                              location={"step": step})
        if not self.diverged and med < SMALL_UPDATE and self.n_losses >= SLOW_MIN_LOSSES and not self._warming_up():
            head, tail = statistics.mean(self.first_losses), statistics.mean(self.last_losses)
            if head > 0 and (head - tail) / head < SLOW_LOSS_GAIN:
                return self._once("lr-too-low", f"median update/parameter ratio {power(med)} (healthy: near 10^-3); the "
                                  f"loss went from {fmt(head)} to {fmt(tail)} in {self.n_losses} steps",
                                  evidence={"median_update_ratio": med, "loss_first": head, "loss_last": tail},
                                  location={"step": step})
        return []

    def _larges(self) -> list[float]:
        return [large for _, _, large in self.ratios[self.skipped:]][-RATIO_WINDOW:]

    def _warming_up(self) -> bool:
        lrs = [x for x in self.ratio_lrs if _finite(x)]
        return len(lrs) >= 2 and lrs[-1] > lrs[0]

    # ── validation and activations ──────────────────────────────────────────
    def _validation(self, r: Record, step: Any) -> list[Finding]:
        val, loss = r.get("val_loss"), r.get("loss")
        if not _finite(val) or not _finite(loss):
            return []
        self.val.append((step, val, loss))
        last = self.val[-(OVERFIT_RISES + 1):]
        if len(last) == OVERFIT_RISES + 1 and all(b[1] > a[1] for a, b in zip(last, last[1:])) and last[-1][2] < last[0][2]:
            return self._once("overfitting", f"validation loss rose {OVERFIT_RISES} evaluations in a row ({last[0][1]:.4g} → "
                              f"{last[-1][1]:.4g}) while the training loss fell ({last[0][2]:.4g} → {last[-1][2]:.4g})",
                              evidence={"evaluations": last}, location={"step": step})
        return []

    def _activations(self, r: Record, step: Any) -> list[Finding]:
        out: list[Finding] = []
        for kind, code, threshold, what in (("dead_fraction", "dead-relu", DEAD_RELU_TRAINED, "units never active"),
                                            ("saturated_fraction", "saturated-activations", SATURATED, "outputs saturated")):
            for layer, v in (r.get(kind) or {}).items():
                n = self.streaks[kind, layer] = self.streaks.get((kind, layer), 0) + 1 if v >= threshold else 0
                if n >= ACTIVATION_STREAK:
                    out += self._once(code, f"layer `{layer}`: {v:.0%} of its {what} on the batch, for {ACTIVATION_STREAK} "
                                      f"sampled steps in a row up to step {step}", evidence={kind: r[kind]},
                                      location={"step": step, "module": layer})
        return out
