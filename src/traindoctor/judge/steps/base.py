"""What every step rule shares: the record, the verdict a rule returns, the running quantities
several rules read (`Trend`), and the registry a rule joins with `@step_rule`."""

from __future__ import annotations

import math
import statistics
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping

from ...vocabulary.numbers import finite, fmt
from ..thresholds import (DIVERGENCE_BASELINE_STEPS, DIVERGENCE_FACTOR, DIVERGENCE_WINDOW, EXPLODE_BASELINE_STEPS,
                          EXPLODE_EARLY_JUDGED, EXPLODE_FACTOR,
                          FIXED_COUNT_SHARE, LARGE_UPDATE, LOSS_ENDS, OVERSHOOT, RATIO_HISTORY, RATIO_WINDOW,
                          SECOND_MOMENT_STATE, SECOND_MOMENT_WARMUP, SIGN_LIKE_LARGE_UPDATE, SPIKE_HISTORY)

# One optimizer step: any of `step`, `optimizer_step`, `loss`, `loss_terms`, `loss_averaged`, `grad_norm`,
# `grad_norm_before_clip`, `update_ratio`, `lr`, `val_loss`, `dead_fraction`, `saturated_fraction`,
# `nonfinite_inputs` (measure/records.py:StepRecord). Missing keys are not judged.
Record = Mapping[str, Any]


@dataclass
class Verdict:
    """What a rule decided; the runner turns it into a Finding once per code and severity."""

    code: str
    observation: str
    evidence: dict[str, Any] = field(default_factory=dict)
    location: dict[str, Any] = field(default_factory=dict)
    severity: str | None = None


RULES: list[Callable[[], Any]] = []


def step_rule(cls: type) -> type:
    """Register a rule class: one instance per StepRules, `observe(record, trend) -> list[Verdict]`."""
    RULES.append(cls)
    return cls


if TYPE_CHECKING:
    import torch

_ADAPTIVE = ("Adam", "AdamW", "Adamax", "NAdam", "RAdam", "RMSprop", "Adagrad", "Adadelta", "SparseAdam")


def second_moment(opt: torch.optim.Optimizer | None) -> bool | None:
    """Whether the optimizer divides by a running second moment (Adam family, RMSprop, Adagrad): read
    from its state once it has one (any optimizer, torch's or not), else from its class; None without
    an optimizer (a log read back)."""
    if opt is None:
        return None
    state = next(iter(opt.state.values()), None)
    if state:
        return any(k in state for k in SECOND_MOMENT_STATE)
    return any(c.__name__ in _ADAPTIVE and c.__module__.startswith("torch.optim") for c in type(opt).__mro__)


def _usual(counts: Counter[int]) -> int | None:
    """The count most steps had (FIXED_COUNT_SHARE of them or more); None when it changes from step to step."""
    if not counts:
        return 1
    n, steps = counts.most_common(1)[0]
    return n if steps > FIXED_COUNT_SHARE * counts.total() else None


class Trend:
    """The running quantities of one optimizer's steps that several rules read, updated once per record
    before the rules run (`update`) and after (`settle`). Everything here looks only backwards."""

    def __init__(self, optimizer: torch.optim.Optimizer | None, plateau_window: int):
        self.optimizer, self.plateau_window = optimizer, plateau_window
        self.logged_second_moment: bool | None = None  # the optimizer's kind, as a log read back states it
        self.step: Any = None
        self.norm: float | None = None  # the raw (pre-clip) total gradient norm of this step
        self.early_norms: list[float] = []  # the first EXPLODE_BASELINE_STEPS norms: the gradients' baseline
        self.loss: float | None = None  # this step's loss per summed term
        self.in_baseline = False  # this step's loss went into the baseline (not judged against it)
        self.per_term = False
        self.relative = False  # the loss is read relative to the scale of a target a model made
        # A loss seen below zero (a policy-gradient surrogate, a continuous density's likelihood) has no scale
        # anchored at zero: the rules that compare it with multiples of its start do not apply.
        self.signed = False
        # A loss summed over a number of terms that changes from step to step (the steps of episodes of
        # varying length: REINFORCE, actor-critic) is a new sample of a new size each step, drawn from
        # what the policy does: its single-step jumps and excursions are the data's, not the training's.
        # A batch size with a ragged last batch once an epoch is a fixed count that is sometimes short.
        self.terms: Counter[int] = Counter()  # steps per count of summed terms
        self.averaged: Counter[int] = Counter()  # steps per count of terms the loss is a mean of
        self.early_losses: list[float] = []  # the first DIVERGENCE_BASELINE_STEPS losses
        self.first_losses: list[float] = []
        self.last_losses: deque[float] = deque(maxlen=LOSS_ENDS)
        self.n_losses = 0
        self.recent: deque[float] = deque(maxlen=SPIKE_HISTORY)  # losses before this step
        self.window: deque[tuple[Any, float]] = deque(maxlen=DIVERGENCE_WINDOW)
        self.overshoots = 0  # losses above OVERSHOOT x the start
        self.peak: tuple[Any, float] | None = None  # (step, value) of the highest loss per term so far
        self.since_peak = 0  # losses recorded after the peak
        # (step, ratio, what counts as large then): the measurements a divergence may be blamed on, and the
        # last RATIO_WINDOW after the very first update (which measures the initial step size, not the rate)
        self.ratios: deque[tuple[Any, float, float]] = deque(maxlen=RATIO_HISTORY)
        self.recent_ratios: deque[tuple[float, float]] = deque(maxlen=RATIO_WINDOW)
        self.lrs: deque[float] = deque(maxlen=RATIO_WINDOW)  # the rate at each ratio measurement
        self.first_lr: Any = None
        self.diverged: tuple[Any, str, bool] | None = None  # (step, how, finite) once training blew up
        self.diverged_now = False

    # ── derived ─────────────────────────────────────────────────────────────
    @property
    def episodic(self) -> bool:
        return _usual(self.terms) is None

    @property
    def base(self) -> float | None:
        """Where the loss started: the first loss, or the median of the first few if lower."""
        if len(self.early_losses) < DIVERGENCE_BASELINE_STEPS:
            return None
        return min(self.early_losses[0], statistics.median(self.early_losses))

    @property
    def summed(self) -> int | None:
        """How many terms the steps' loss adds up, when more than one and fixed (a sum over the batch or its
        elements, not episodes of varying length)."""
        n = _usual(self.terms)
        return n if n is not None and n > 1 else None

    @property
    def mean_of(self) -> int | None:
        """How many terms the steps' loss averages, when more than one and fixed."""
        n = _usual(self.averaged)
        return n if n is not None and n > 1 else None

    def loss_name(self) -> str:
        """What the loss values these rules read are."""
        name = "the loss per summed term" if self.per_term else "the loss"
        return name + " relative to its model-made target's scale" if self.relative else name

    def gradient_scaled(self) -> bool:
        """Whether the optimizer's step is the rate times the gradient (SGD, with or without momentum), so a loss
        N times larger takes steps N times longer; one that divides by a running second moment (Adam, RMSprop)
        takes the same steps whatever the loss's scale. False when unknown."""
        adaptive = second_moment(self.optimizer) if self.optimizer is not None else self.logged_second_moment
        return adaptive is False

    def ratio_window(self) -> list[tuple[float, float]]:
        """The last RATIO_WINDOW (ratio, large threshold) pairs, the very first update left out."""
        return list(self.recent_ratios)

    def warming_up(self) -> bool:
        """A schedule still raising the rate: the latest above the one at the start of the ratio window."""
        lrs = [x for x in self.lrs if finite(x)]
        return len(lrs) >= 2 and lrs[-1] > lrs[0]

    def _large(self, r: Record) -> float:
        """The update ratio that counts as large at this step: adaptive optimizers' first steps move every
        weight by about lr whatever the gradient (None: possibly adaptive)."""
        opt_step = r.get("optimizer_step", r.get("step", 0))
        if not self.gradient_scaled() and opt_step is not None and opt_step < SECOND_MOMENT_WARMUP:
            return SIGN_LIKE_LARGE_UPDATE
        return LARGE_UPDATE

    # ── per record ──────────────────────────────────────────────────────────
    def update(self, r: Record) -> None:
        self.step, self.diverged_now = r.get("step"), False
        raw = r.get("grad_norm_before_clip")
        norm = raw if raw is not None else r.get("grad_norm")  # clipping hides explosions from the post-clip norm
        self.norm = norm if finite(norm) else None
        if self.norm is not None and len(self.early_norms) < EXPLODE_BASELINE_STEPS:
            # A norm EXPLODE_FACTOR above every one of EXPLODE_EARLY_JUDGED norms before it is no baseline: the
            # explosion came within the first steps (a rate that overshoots an exp link at its third step).
            if not (len(self.early_norms) >= EXPLODE_EARLY_JUDGED
                    and self.norm > EXPLODE_FACTOR * max(self.early_norms) > 0):
                self.early_norms.append(self.norm)
                self.norm = None  # part of the baseline, not judged against it
        if self.first_lr is None:
            self.first_lr = r.get("lr")
        if "second_moment" in r:
            self.logged_second_moment = r["second_moment"]
        self._loss(r)
        ratio = r.get("update_ratio")
        if finite(ratio):
            large = self._large(r)
            self.ratios.append((self.step, ratio, large))
            if r.get("optimizer_step", self.step) != 0:
                self.recent_ratios.append((ratio, large))
            lr = r.get("lr")
            self.lrs.append(max(lr) if isinstance(lr, (list, tuple)) and lr else lr if finite(lr) else math.nan)

    def _loss(self, r: Record) -> None:
        loss, grad = r.get("loss"), r.get("grad_norm")
        self.loss, self.in_baseline = None, False
        if (loss is not None and not finite(loss)) or (grad is not None and not finite(grad)):
            # A blow-up the updates can explain; a NaN batch, or a sudden NaN on a steady loss, came from elsewhere
            # (the non-finite rule localises it) and leaves the other rules judging the steps that follow.
            if not r.get("nonfinite_inputs") and self._rising():
                self._diverge(f"the loss was {fmt(loss)} and the gradient norm {fmt(grad)} at step {self.step}",
                              self.step, finite_=False)
            return
        if loss is None:
            return
        self.loss = x = loss / r.get("loss_terms", 1)  # per summed term: a growing episode's sum rises without diverging
        self.per_term = "loss_terms" in r
        # Against a target a model made (a TD target's bootstrap): the loss grows with the values it is measured
        # in, which start near zero and grow as they are learned, and a rare large reward jumps it; relative to
        # the target's own scale it is judged as any regression.
        if r.get("target_scale"):
            self.loss = x = x / r["target_scale"]
            self.relative = True
        self.signed = self.signed or x < 0
        self.terms[r.get("loss_terms", 1)] += 1
        self.averaged[r.get("loss_averaged", 1)] += 1
        self.n_losses += 1
        self.since_peak += 1
        if self.peak is None or x > self.peak[1]:
            self.peak, self.since_peak = (self.step, x), 0
        if len(self.first_losses) < LOSS_ENDS:
            self.first_losses.append(x)
        self.last_losses.append(x)
        base = self.base
        if base is None:
            self.early_losses.append(x)
            self.in_baseline = True
            return
        if self.signed:
            return
        self.overshoots += base > 0 and x > OVERSHOOT * base and not self.episodic
        self.window.append((self.step, x))
        limit = DIVERGENCE_FACTOR * base
        if base > 0 and len(self.window) == DIVERGENCE_WINDOW and statistics.median(v for _, v in self.window) > limit:
            at, v = next((s, v) for s, v in self.window if v > limit)
            what = self.loss_name()
            self._diverge(f"{what} rose from {fmt(base)} to {fmt(v)} at step {at} and stayed above {fmt(limit)}", at)

    def _rising(self) -> bool:
        """Whether the loss had risen above where it started before turning non-finite (or turned in the
        first steps)."""
        if self.last_losses and self.base is not None and not self.signed:
            return self.last_losses[-1] > self.base
        return True

    def _diverge(self, how: str, at: Any, finite_: bool = True) -> None:
        if self.diverged is None:
            self.diverged, self.diverged_now = (at, how, finite_), True

    def settle(self) -> None:
        """After the rules: this step's loss joins the history the next step is judged against."""
        if self.loss is not None and not self.in_baseline:
            self.recent.append(self.loss)
