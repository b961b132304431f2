"""The numbers of a sweep, per group and varied parameter (the seeds' analysis, Part 4): per value the
mean metric, its spread (q10/q90), the mean within-(group, seed) z-score, the t-statistic of its paired
per-seed differences; for numeric parameters the dose-response trend (r, and t over the seeds' slopes);
and how the parameters co-vary. Numbers only: `rules.py` decides what they mean."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ..judge.thresholds import LOG_SPAN

SEED, VALUE, METRIC, Z = "__seed", "__value", "__metric", "__z"


def zscores(frame: pd.DataFrame, by: list[str]) -> pd.Series:
    """The metric as a z-score within each (group, seed): seed-level baselines normalised out."""
    grouped = frame.groupby(by, dropna=False)[METRIC]
    spread = grouped.transform(lambda m: m.std(ddof=0))
    return ((frame[METRIC] - grouped.transform("mean")) / spread.where(spread > 0)).fillna(0.0)


def parameter(frame: pd.DataFrame) -> dict[str, Any]:
    """One parameter in one group. `frame`: the group's runs with a finite metric, with columns SEED,
    VALUE (the parameter), METRIC and Z."""
    values = sorted(frame[VALUE].unique(), key=_order)
    cells = frame.groupby([SEED, VALUE])[METRIC].mean().unstack(VALUE).reindex(columns=values)
    complete = cells.dropna()
    table = complete.to_numpy(dtype=float)  # seeds x values, the seeds that ran every value
    diffs = _paired_differences(table)
    z = frame.groupby([SEED, VALUE])[Z].mean().unstack(VALUE).reindex(index=complete.index, columns=values)
    rows = []
    for j, v in enumerate(values):
        runs = frame.loc[frame[VALUE] == v, METRIC]
        t, p = _t(diffs[:, j]) if diffs.size else (None, None)
        rows.append({"value": plain(v), "runs": int(len(runs)), "seeds": int(frame.loc[frame[VALUE] == v, SEED].nunique()),
                     "mean": float(runs.mean()), "q10": float(runs.quantile(0.1)), "q90": float(runs.quantile(0.9)),
                     "mean_z": num(z[v].mean()) if len(z) else None,
                     "diff": num(diffs[:, j].mean()) if diffs.size else None, "t": t, "p": p,
                     "diffs": [float(d) for d in diffs[:, j]] if diffs.size else []})
    return {"values": rows, "paired_seeds": [plain(s) for s in complete.index],
            "unpaired_seeds": [plain(s) for s in cells.index.difference(complete.index)],
            "noise_without": _noise_without(table), "trend": _trend(values, table),
            "lines": {str(plain(s)): [num(x) for x in row] for s, row in zip(cells.index, cells.to_numpy(dtype=float))}}


def association(a: pd.Series, b: pd.Series) -> float:
    """Cramér's V of two parameters over the same runs: 0 on a full grid, 1 when one determines the other."""
    table = pd.crosstab(a.map(repr), b.map(repr)).to_numpy()
    if min(table.shape) < 2:
        return 0.0
    return float(stats.contingency.association(table, method="cramer"))


def _paired_differences(table: np.ndarray) -> np.ndarray:
    """Per seed (row), each value's metric minus the mean of the other values on that seed."""
    n, k = table.shape
    if n == 0 or k < 2:
        return np.empty((0, k))
    return table - (table.sum(axis=1, keepdims=True) - table) / (k - 1)


def _t(d: np.ndarray) -> tuple[float | None, float | None]:
    """One-sample t of the paired differences against 0, and its two-sided p; None below 2 seeds."""
    if len(d) < 2:
        return None, None
    if np.ptp(d) <= 1e-12 * np.abs(d).max(initial=0.0):  # every seed moved by the same amount: no spread
        return (0.0, 1.0) if not d.any() else (float(np.sign(d.mean()) * np.inf), 0.0)
    result = stats.ttest_1samp(d, 0.0)
    return float(result.statistic), float(result.pvalue)


def _noise_without(table: np.ndarray) -> list[float | None]:
    """Per paired seed, the run-to-run deviation of the other seeds' runs: the residual standard deviation
    of their seeds x values table after seed and value effects ((n-2)(k-1) degrees of freedom). A seed
    suspected of luck is judged against a noise level it did not inflate."""
    n, k = table.shape
    out: list[float | None] = []
    for i in range(n):
        rest = np.delete(table, i, axis=0)
        if rest.shape[0] < 2 or k < 2:
            out.append(None)
            continue
        r = rest - rest.mean(axis=1, keepdims=True) - rest.mean(axis=0, keepdims=True) + rest.mean()
        out.append(float(np.sqrt((r ** 2).sum() / ((rest.shape[0] - 1) * (k - 1)))))
    return out


def _trend(values: list, table: np.ndarray) -> dict[str, Any] | None:
    """Dose-response of a numeric parameter with 3+ values: Pearson r of the metric on the value (each
    seed centred: the trend within seeds), and the t of the seeds' slopes."""
    if len(values) < 3 or not all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
                                  for v in values) or table.shape[0] == 0:
        return None
    x = np.array(values, dtype=float)
    log = bool(x.min() > 0 and x.max() / x.min() >= LOG_SPAN)
    x = np.log10(x) if log else x
    centred = table - table.mean(axis=1, keepdims=True)
    xs = np.tile(x - x.mean(), table.shape[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a constant metric: r is undefined, said as None
        r = stats.pearsonr(xs, centred.ravel()).statistic if np.ptp(centred) > 0 else np.nan
    slopes = np.array([np.polyfit(x, row, 1)[0] for row in table])
    t, p = _t(slopes)
    return {"r": num(r), "t": t, "p": p, "slope": float(slopes.mean()), "log_scale": log,
            "slopes": [float(s) for s in slopes]}


def _order(v) -> tuple:
    """Numbers in numeric order, then everything else by its text."""
    if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool):
        return (0, float(v), "")
    return (1, 0.0, str(v))


def plain(v):
    """numpy scalars as Python ones, for the report's JSON."""
    return v.item() if isinstance(v, np.generic) else v


def num(v) -> float | None:
    return None if v is None or not np.isfinite(v) else float(v)
