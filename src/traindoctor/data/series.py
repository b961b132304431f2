"""Rows as time series: the sampled rows cut into episodes in time order, and lags estimated by
cross-correlation — shared by the driving and robotics checks.

The series checks read the profile's sample of whole rows, which keeps the rows' order. When the sample
holds every row of the split (up to streaming.RESERVOIR rows) neighbouring rows are neighbouring steps;
past that the sample is sparse in time, and the series checks read the split's stretches instead
(`in_stretches`): runs of consecutive rows (streaming.Stretches), an episode ending where a stretch does.
"""

from __future__ import annotations

import re

import numpy as np

from dataclasses import replace

from ..measure.profile import Profile
from ..measure.streaming import STRETCH_ID, Reservoir
from .audit import Audit

TIME_SCALES = ((1.0, "s"), (1e-3, "ms"), (1e-6, "us"), (1e-9, "ns"))  # a timestamp unit and its seconds
STEP_RANGE = (0.002, 5.0)  # a plausible logging period, in seconds (500 Hz to 0.2 Hz)


def key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def whole(p: Profile) -> bool:
    """The sample holds neighbouring steps: every row of the split in order, or stretches of consecutive rows."""
    return bool(p.sample.rows) and (STRETCH_ID in p.sample.rows or len(next(iter(p.sample.rows.values()))) == p.rows)


def in_stretches(p: Profile) -> Profile:
    """The split as the series checks read it: itself when its sample holds every row, else the same profile
    over its stretches of consecutive rows."""
    if whole(p) or p.stretches is None:
        return p
    rows = p.stretches.rows()
    if not rows:
        return p
    sample = Reservoir()
    sample.rows = rows
    return replace(p, sample=sample)


def column(a: Audit, p: Profile, name: str) -> np.ndarray:
    """A numeric column of the sample as (rows, dims) floats."""
    values = np.asarray(p.sample.rows[name], dtype=float)
    return values.reshape(len(values), -1)


def episodes(a: Audit, p: Profile) -> list[np.ndarray]:
    """Row indices of the sample per episode (the first group column; one episode when there is none), in
    file order."""
    n = len(next(iter(p.sample.rows.values())))
    group = next((g for g in a.roles.groups if g in p.sample.rows), None)
    stretch = p.sample.rows.get(STRETCH_ID)
    if group is None and stretch is None:
        return [np.arange(n)]
    inv = np.zeros(n, dtype=np.int64)
    if group is not None:
        inv = np.unique(keys(p, group), return_inverse=True)[1].reshape(n)
    if stretch is not None:  # an episode ends where its stretch does: the next rows kept are far away
        inv = np.unique(np.stack([stretch, inv], 1), axis=0, return_inverse=True)[1].reshape(n)
    order = np.argsort(inv, kind="stable")
    return np.split(order, np.flatnonzero(np.diff(inv[order])) + 1)


def keys(p: Profile, name: str) -> np.ndarray:
    """A group column of the sample, one key per row (text as text)."""
    values = p.sample.rows[name]
    values = values.reshape(len(values), -1)[:, 0]
    return np.asarray([str(k) for k in values]) if values.dtype == object else values


def times(a: Audit, p: Profile) -> np.ndarray | None:
    t = a.roles.time
    if t is None or t not in p.sample.rows or p.layouts[t].kind != "number":
        return None
    return column(a, p, t)[:, 0]


def in_time_order(a: Audit, p: Profile) -> list[np.ndarray]:
    """Each episode's rows sorted by time (file order when there is no time column)."""
    t = times(a, p)
    eps = episodes(a, p)
    if t is None:
        return eps
    return [e[np.argsort(t[e], kind="stable")] for e in eps]


def step_seconds(a: Audit, p: Profile, eps: list[np.ndarray]) -> tuple[float, str] | None:
    """The logging period in seconds and the timestamps' unit: the median step within episodes, read in
    the first unit (s, ms, us, ns) that makes it a plausible period."""
    t = times(a, p)
    if t is None:
        return None
    steps = np.concatenate([np.diff(t[e]) for e in eps if len(e) > 1] or [np.empty(0)])
    steps = steps[np.isfinite(steps) & (steps > 0)]
    if len(steps) < 10:
        return None
    step = float(np.median(steps))
    for scale, unit in TIME_SCALES:
        if STEP_RANGE[0] <= step * scale <= STEP_RANGE[1]:
            return step * scale, unit
    return None


def cross_correlation(xs: list[np.ndarray], ys: list[np.ndarray], max_lag: int) -> np.ndarray:
    """corr(x_t, y_{t+k}) for k in -max_lag..max_lag, pooled over episodes (pairs never cross an
    episode's end). NaN where fewer than 20 pairs exist or a side is constant."""
    out = np.full(2 * max_lag + 1, np.nan)
    for j, k in enumerate(range(-max_lag, max_lag + 1)):
        a_parts, b_parts = [], []
        for x, y in zip(xs, ys):
            n = min(len(x), len(y))
            if n - abs(k) < 2:
                continue
            a_parts.append(x[max(0, -k):n - max(0, k)])
            b_parts.append(y[max(0, k):n - max(0, -k)])
        if not a_parts:
            continue
        u, v = np.concatenate(a_parts), np.concatenate(b_parts)
        keep = np.isfinite(u) & np.isfinite(v)
        u, v = u[keep], v[keep]
        if len(u) >= 20 and u.std() > 0 and v.std() > 0:
            out[j] = float(np.corrcoef(u, v)[0, 1])
    return out


def peak(corr: np.ndarray, max_lag: int) -> tuple[int, float] | None:
    """The lag of the largest correlation, and that correlation."""
    if np.all(np.isnan(corr)):
        return None
    j = int(np.nanargmax(corr))
    return j - max_lag, float(corr[j])


def refined(corr: np.ndarray, max_lag: int) -> float | None:
    """The peak's lag between steps: the vertex of the parabola through the peak and its neighbours (a
    smooth signal's peak is broad; its centre, not its top sample, is the lag)."""
    found = peak(corr, max_lag)
    if found is None:
        return None
    j = found[0] + max_lag
    if 0 < j < len(corr) - 1 and np.isfinite(corr[j - 1]) and np.isfinite(corr[j + 1]):
        curve = corr[j - 1] - 2 * corr[j] + corr[j + 1]
        if curve < 0:
            return found[0] + 0.5 * float(corr[j - 1] - corr[j + 1]) / float(curve)
    return float(found[0])
