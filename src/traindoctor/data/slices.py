"""Evaluation slices: a model's metric broken down by the values of the columns the user names (maneuver,
agent type, speed), the worst slices next to the aggregate, with their row counts.

The metric is a per-row column (`metric`: ADE, loss, correct), or made from a `prediction` and the
target: accuracy for class targets, absolute error otherwise. A numeric slice column of many values is cut
into quintiles. Computed on the uniform row sample (exact up to its size), in every split that holds the
columns. A slice is judged from SLICE_MIN_ROWS sampled rows: worse than the other rows by a Welch t of
SLICE_T and by SLICE_GAP of the aggregate's error; smaller slices are listed, never judged.
"""

from __future__ import annotations

import re

import numpy as np

from ..judge.thresholds import SLICE_GAP, SLICE_MIN_ROWS, SLICE_T
from ..vocabulary.finding import Finding, finding
from ..vocabulary.numbers import fmt
from .audit import Audit
from ..judge.columns import _is_classes
from ..measure.profile import Profile

SOURCE = "data"
LISTED = 20  # slices kept per column in the report, worst first
QUANTILE_BINS = 5
CATEGORIES_MAX = 20  # a numeric column with more distinct values is cut into quantile bins
# a metric named like this is better when higher; any other (error, loss, ADE, FDE, miss rate) when lower
HIGHER = re.compile(r"acc|correct|iou|f1|precision|recall|auc|score|success|reward|map\b|hit", re.I)


def slices(a: Audit) -> list[Finding]:
    ev = a.evaluation
    if not ev.slices:
        return []
    out = []
    for p in [a.train, *a.evals]:
        metric = _metric(a, p)
        if metric is None:
            continue
        name, values, higher = metric
        for column in ev.slices:
            if column not in p.sample.rows:
                continue
            table = _table(p, column, values, higher)
            table["metric"] = name
            a.tables.setdefault("slices", {}).setdefault(p.name, {})[column] = table
            bad = [s for s in table["slices"] if s.get("underperforms")]
            if bad:
                out.append(_finding(p, column, table, bad))
    return out


def _metric(a: Audit, p: Profile) -> tuple[str, np.ndarray, bool] | None:
    """(name, per sampled row value, higher is better), or None when the split lacks what it takes."""
    ev = a.evaluation
    if ev.metric:
        if ev.metric not in p.sample.rows or p.layouts[ev.metric].kind != "number":
            return None
        return ev.metric, _column(p, ev.metric).astype(float), bool(HIGHER.search(ev.metric))
    target = a.roles.target[0] if a.roles.target else None
    if not ev.prediction or target is None or ev.prediction not in p.sample.rows or target not in p.sample.rows:
        return None
    pred, true = _column(p, ev.prediction), _column(p, target)

    if _is_classes(p, target) or pred.dtype == object or true.dtype == object:
        known = np.array([t is not None and t == t for t in true])
        correct = np.array([str(_plain(x)) == str(_plain(t)) for x, t in zip(pred, true)], dtype=float)
        return "accuracy", np.where(known, correct, np.nan), True
    return f"|{ev.prediction} - {target}|", np.abs(pred.astype(float) - true.astype(float)), False


def _column(p: Profile, column: str) -> np.ndarray:
    values = p.sample.rows[column]
    return values.reshape(len(values)) if values.ndim == 2 and values.shape[1] == 1 else values


def _plain(v):
    return int(v) if isinstance(v, float) and v.is_integer() else v


def _keys(p: Profile, column: str) -> np.ndarray:
    """Each sampled row's slice: the column's value as text, or its quantile bin for a many-valued number."""
    values = _column(p, column)
    if values.dtype != object and len(np.unique(values[np.isfinite(values)])) > CATEGORIES_MAX:
        edges = np.unique(np.nanquantile(values, np.linspace(0, 1, QUANTILE_BINS + 1)))
        bins = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(edges) - 2)
        names = np.array([f"[{fmt(edges[i])}, {fmt(edges[i + 1])}" + ("]" if i == len(edges) - 2 else ")")
                          for i in range(len(edges) - 1)], dtype=object)
        return np.where(np.isfinite(values), names[bins], "missing")
    return np.array(["missing" if v is None or v != v else str(_plain(v)) for v in values], dtype=object)


def _table(p: Profile, column: str, values: np.ndarray, higher: bool) -> dict:
    keys = _keys(p, column)
    finite = np.isfinite(values)
    keys, values = keys[finite], values[finite]
    aggregate = float(values.mean()) if len(values) else float("nan")
    error = _error_scale(values, aggregate, higher)
    exact = (p.counts.get(column) or [None])[0]
    rows = []
    for key in np.unique(keys):
        inside = keys == key
        row = {"value": str(key), "sampled": int(inside.sum()), "mean": float(values[inside].mean())}
        if exact is not None and exact.counts is not None:
            row["rows"] = int(sum(c for k, c in exact.counts.items() if str(_plain(k)) == key))
        row.update(_judge(values[inside], values[~inside], aggregate, error, higher))
        rows.append(row)
    rows.sort(key=lambda r: r["mean"] if higher else -r["mean"])  # worst first
    return {"aggregate": aggregate, "higher_is_better": higher, "sampled": int(len(values)),
            "slices": rows[:LISTED], "slices_left_out": max(0, len(rows) - LISTED)}


def _error_scale(values: np.ndarray, aggregate: float, higher: bool) -> float:
    """What 'the aggregate's error' is: the mean itself for an error (lower is better); for a score in [0, 1]
    the distance to a perfect 1; otherwise the mean's magnitude."""
    if higher and len(values) and values.min() >= 0 and values.max() <= 1:
        return 1.0 - aggregate
    return abs(aggregate)


def _judge(inside: np.ndarray, rest: np.ndarray, aggregate: float, error: float, higher: bool) -> dict:
    if len(inside) < SLICE_MIN_ROWS or len(rest) < SLICE_MIN_ROWS:
        return {"judged": False}
    worse = (rest.mean() - inside.mean()) if higher else (inside.mean() - rest.mean())
    se = np.sqrt(inside.var(ddof=1) / len(inside) + rest.var(ddof=1) / len(rest))
    t = float(worse / se) if se > 0 else (float("inf") if worse > 0 else 0.0)
    gap = float(worse / error) if error > 0 else 0.0
    return {"judged": True, "t": t, "gap": gap, "underperforms": bool(t >= SLICE_T and gap >= SLICE_GAP)}


def _finding(p: Profile, column: str, table: dict, bad: list[dict]) -> Finding:
    better = "higher" if table["higher_is_better"] else "lower"
    shown = "; ".join(f"`{s['value']}`: {fmt(s['mean'])} on {s.get('rows', s['sampled'])} rows (t {s['t']:.1f})"
                      for s in bad[:5])
    return finding("slice-underperforms", f"in {p.name}, {table['metric']} ({better} is better) is {fmt(table['aggregate'])} "
                   f"overall, but by `{column}`: {shown}", SOURCE,
                   evidence={"column": column, "metric": table["metric"], "aggregate": table["aggregate"],
                             "slices": bad[:LISTED]},
                   location={"split": p.name, "columns": [column]})
