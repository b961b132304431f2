"""Classify the shape of logged curves: one loss series, a train/validation pair, a loss/metric pair.

Each series is first reduced to at most MAX_POINTS blocks (median per block for the level, max
per block for spikes), so a 10-million-point log costs one pass of numpy. The level is a
centred rolling median (robust to spikes and minibatch noise); noise is the rolling median
absolute deviation around it. Thresholds (judge/thresholds.py) are set to stay silent on healthy
noisy curves; the validation table in docs/curves.md measures what they catch and what they miss.
These rules see the whole log at once; judge/steps/ judges the same losses one step at a time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .thresholds import (FLOOR, METRIC_FLAT, METRIC_LOSS_FALL, MIN_POINTS, OVERFIT_RISE, OVERFIT_TREND, PLATEAU_GAIN,
                         SERIES_DIVERGE_BEST, SERIES_DIVERGE_START, SETTLED, SLOW_HALF_AT, SPIKE_FACTOR, SPIKE_MADS,
                         SPIKE_UNDO, STILL_FALLING, SWING, SWING_NOISE, SWINGS)

# pandas and scipy are imported where used: the CLI imports curves (and this module) at start-up.

MAX_POINTS = 20_000  # blocks a series is reduced to: a bound on work, not a threshold

@dataclass
class Series:
    steps: np.ndarray
    values: np.ndarray

    @classmethod
    def of(cls, steps, values) -> "Series":
        s, v = np.asarray(steps, dtype=float), np.asarray(values, dtype=float)
        order = np.argsort(s, kind="stable")
        return cls(s[order], v[order])


@dataclass
class Event:
    code: str
    series: str
    start: float
    end: float
    observation: str
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass
class Reduced:
    steps: np.ndarray   # first step of each block
    level: np.ndarray   # block medians, then a rolling median of them
    peak: np.ndarray    # block maxima
    mad: np.ndarray     # rolling median absolute deviation of the block medians
    n: int              # raw points


def reduce(s: Series) -> Reduced:
    v, t = s.values, s.steps
    block = max(1, -(-len(v) // MAX_POINTS))
    m = len(v) // block * block
    if block > 1:
        vb = v[:m].reshape(-1, block)
        med, peak, steps = np.median(vb, axis=1), vb.max(axis=1), t[:m:block]
    else:
        med, peak, steps = v, v, t
    import pandas as pd

    w = max(11, len(med) // 50) | 1
    roll = pd.Series(med).rolling(w, center=True, min_periods=1)
    level = roll.median().to_numpy()
    mad = pd.Series(np.abs(med - level)).rolling(w, center=True, min_periods=1).median().to_numpy()
    return Reduced(steps, level, peak, mad, len(v))


def envelope(s: Series, buckets: int = 1000) -> tuple[list[float], list[float]]:
    """At most 2 x `buckets` finite points that keep each bucket's minimum and maximum, in step
    order: a plot of them shows every spike a plot of all points would."""
    keep = np.isfinite(s.values)
    t, v = s.steps[keep], s.values[keep]
    if len(v) <= 2 * buckets:
        return t.tolist(), v.tolist()
    edges = np.linspace(0, len(v), buckets + 1).astype(int)
    lo = np.minimum.reduceat(v, edges[:-1])
    hi = np.maximum.reduceat(v, edges[:-1])
    idx = []
    for a, b, mn, mx in zip(edges[:-1], edges[1:], lo, hi):
        seg = v[a:b]
        i, j = a + int(np.argmax(seg == mn)), a + int(np.argmax(seg == mx))
        idx += [min(i, j), max(i, j)]
    idx = np.unique(idx)
    return t[idx].tolist(), v[idx].tolist()


def loss_events(name: str, s: Series) -> list[Event]:
    bad = ~np.isfinite(s.values)
    if bad.any():
        at = float(s.steps[bad.argmax()])
        return [Event("loss-divergence", name, at, float(s.steps[-1]),
                      f"`{name}` becomes non-finite ({s.values[bad.argmax()]}) at step {at:g}",
                      {"first_nonfinite_step": at, "last_finite": _last_finite(s, bad)})]
    if len(s.values) < MIN_POINTS:
        return []
    r = reduce(s)
    n = len(r.level)
    head = float(np.median(r.level[: max(1, n // 20)]))
    tail = float(np.median(r.level[-max(1, n // 10):]))
    best_i = int(np.argmin(r.level))
    best = float(r.level[best_i])
    out: list[Event] = []
    if tail > SERIES_DIVERGE_START * head and tail > SERIES_DIVERGE_BEST * best:
        return [Event("loss-divergence", name, float(r.steps[best_i]), float(r.steps[-1]),
                      f"`{name}` fell to {best:.4g} at step {r.steps[best_i]:g}, then rose to {tail:.4g} "
                      f"(it started at {head:.4g})", {"start": head, "best": best, "end": tail})]
    out += _spikes(name, r, head)
    out += _oscillation(name, r)
    if head > 0 and (head - tail) < PLATEAU_GAIN * head and not out:
        out.append(Event("loss-plateau", name, float(r.steps[0]), float(r.steps[-1]),
                         f"`{name}` went from {head:.4g} to {tail:.4g} over {r.n} points "
                         f"({(head - tail) / head:.1%} lower)", {"start": head, "end": tail}))
    elif head > tail > 0 and not out:
        out += _slow(name, r, head, tail) or _floor(name, s, r, tail)
    return out


def _last_finite(s: Series, bad: np.ndarray) -> float | None:
    good = s.values[:bad.argmax()]
    return float(good[-1]) if len(good) else None


def _spikes(name: str, r: Reduced, head: float) -> list[Event]:
    scale = np.maximum(r.mad, 1e-12)
    jump = r.peak - r.level
    progress = np.maximum(head - r.level, 0.0)
    hits = np.flatnonzero((jump > SPIKE_MADS * scale) & (r.peak > SPIKE_FACTOR * np.abs(r.level))
                          & (jump >= SPIKE_UNDO * progress))
    if len(hits) == 0:
        return []
    worst = hits[np.argmax(r.peak[hits] / np.abs(r.level[hits]))]
    return [Event("loss-spikes", name, float(r.steps[hits[0]]), float(r.steps[hits[-1]]),
                  f"`{name}` has {len(hits)} spike(s); the largest at step {r.steps[worst]:g}: {r.peak[worst]:.4g} "
                  f"against a local level of {r.level[worst]:.4g}",
                  {"steps": [float(x) for x in r.steps[hits[:20]]], "n_spikes": int(len(hits))})]


def _oscillation(name: str, r: Reduced) -> list[Event]:
    from scipy.signal import find_peaks

    half = r.level[len(r.level) // 2:]
    if len(half) < 10:
        return []
    scale = float(np.median(np.abs(half))) or 1e-12
    # swings must be large against the level and against what noise leaves in the rolling median
    prominence = max(SWING * scale, SWING_NOISE * float(np.median(r.mad[len(r.level) // 2:])))
    peaks, _ = find_peaks(half, prominence=prominence)
    troughs, _ = find_peaks(-half, prominence=prominence)
    if len(peaks) + len(troughs) < SWINGS:
        return []
    start = len(r.level) // 2
    return [Event("loss-oscillation", name, float(r.steps[start]), float(r.steps[-1]),
                  f"`{name}` swings {len(peaks)} times by more than {SWING:.0%} of its level ({scale:.4g}) "
                  f"in the second half of the run", {"swings": int(len(peaks)), "level": scale})]


def _slow(name: str, r: Reduced, head: float, tail: float) -> list[Event]:
    """Still falling steadily at the end, and half the decrease took more than 40% of the run:
    healthy curves fall fast, then flatten."""
    n = len(r.level)
    drop = head - r.level
    half_at = int(np.argmax(drop >= 0.5 * (head - tail)))
    last = r.level[-max(2, n // 4):]
    still = (last[0] - last[-1]) > STILL_FALLING * abs(last[-1])
    if half_at / n > SLOW_HALF_AT and still:
        return [Event("slow-convergence", name, float(r.steps[0]), float(r.steps[-1]),
                      f"`{name}` fell from {head:.4g} to {tail:.4g}, half of it only by step {r.steps[half_at]:g} "
                      f"({half_at / n:.0%} of the run), and was still falling at the end", {"half_at_fraction": half_at / n})]
    return []


def _floor(name: str, s: Series, r: Reduced, tail: float) -> list[Event]:
    """Fell, then flat over the last 40% of the run, above half the start level. The start is the
    highest level of the first tenth, or the median of the first three points if higher: a fast
    early drop (or a short validation series, whose rolling median lags) must not pass for a low start."""
    n = len(r.level)
    start = max(float(r.level[: max(1, n // 10)].max()), float(np.median(s.values[:3])))
    if start <= 0 or tail < FLOOR * start or start - tail < PLATEAU_GAIN * start:
        return []
    a, b = float(np.median(r.level[int(0.6 * n): int(0.8 * n)])), float(np.median(r.level[int(0.8 * n):]))
    if abs(a - b) > SETTLED * start:
        return []
    settled_at = int(np.argmax(r.level - tail <= 0.1 * (start - tail)))
    return [Event("underfitting", name, float(r.steps[settled_at]), float(r.steps[-1]),
                  f"`{name}` fell from {start:.4g} to {tail:.4g} ({tail / start:.0%} of the start) and stayed there "
                  f"from step {r.steps[settled_at]:g} to the end", {"start": start, "floor": tail})]


def pair_events(train_name: str, train: Series, val_name: str, val: Series) -> list[Event]:
    """Overfitting: validation loss rises after its minimum while the training loss keeps falling."""
    v = val.values[np.isfinite(val.values)]
    vs = val.steps[np.isfinite(val.values)]
    if len(v) < 5:
        return []
    import pandas as pd
    from scipy.stats import spearmanr

    smooth = pd.Series(v).rolling(3, center=True, min_periods=1).median().to_numpy()
    i = len(smooth) - 1 - int(np.argmin(smooth[::-1]))  # the last step at the minimum: where the rise begins
    after = smooth[i + 1:]
    if len(after) < 3 or np.median(after[-3:]) < (1 + OVERFIT_RISE) * smooth[i]:
        return []
    if len(after) >= 4 and spearmanr(np.arange(len(after)), after).statistic < OVERFIT_TREND:
        return []  # up and down around a level after the minimum: noise, not a rising trend
    t = train.values
    finite = np.isfinite(t)
    at_min = t[finite & (train.steps <= vs[i])]
    later = t[finite & (train.steps > vs[i])]
    if len(at_min) == 0 or len(later) == 0:
        return []
    train_then, train_end = float(np.median(at_min[-10:])), float(np.median(later[-max(1, len(later) // 10):]))
    if train_end >= train_then:
        return []
    return [Event("overfitting", val_name, float(vs[i]), float(vs[-1]),
                  f"`{val_name}` reached its minimum {smooth[i]:.4g} at step {vs[i]:g} and rose to {after[-1]:.4g}, "
                  f"while `{train_name}` kept falling ({train_then:.4g} → {train_end:.4g})",
                  {"val_min": float(smooth[i]), "val_end": float(after[-1]), "train_then": train_then, "train_end": train_end})]


def metric_events(loss_name: str, loss: Series, metric_name: str, metric: Series) -> list[Event]:
    """The loss fell by METRIC_LOSS_FALL or more while the metric stayed flat."""
    lv, mv = loss.values[np.isfinite(loss.values)], metric.values[np.isfinite(metric.values)]
    if len(lv) < 10 or len(mv) < 5:
        return []
    k = max(1, len(lv) // 10)
    l0, l1 = float(np.median(lv[:k])), float(np.median(lv[-k:]))
    j = max(1, len(mv) // 5)
    m0, m1 = float(np.median(mv[:j])), float(np.median(mv[-j:]))
    span = max(abs(m0), abs(m1), 1.0 if 0 <= mv.min() and mv.max() <= 1 else 1e-12)
    if l0 > 0 and l1 < (1 - METRIC_LOSS_FALL) * l0 and abs(m1 - m0) < METRIC_FLAT * span:
        return [Event("loss-metric-mismatch", metric_name, float(metric.steps[0]), float(metric.steps[-1]),
                      f"`{loss_name}` fell from {l0:.4g} to {l1:.4g} while `{metric_name}` stayed at {m0:.4g} → {m1:.4g}",
                      {"loss_start": l0, "loss_end": l1, "metric_start": m0, "metric_end": m1})]
    return []
