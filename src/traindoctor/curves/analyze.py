"""From loaded curves to a Report: find the roles of the series, classify them, build findings."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any, TypedDict

import numpy as np

from ..vocabulary.report import Report
from ..vocabulary.finding import finding
from ..vocabulary.triage import triage
from .readers import read
from ..judge.series import Event, Series, envelope, loss_events, metric_events, pair_events
from ..judge.steps import StepRules
from ..judge.thresholds import MIN_POINTS

class CurvesSection(TypedDict):
    """The `curves` section of a report."""

    path: str
    seconds: float
    roles: dict[str, list[str]]  # train, val, metrics, lr, modules: which series plays which part
    notes: list[str]  # what the reader skipped or reinterpreted
    series: dict[str, dict[str, Any]]  # per series: points, first/last step and value, non-finite count, group/member
    plot: dict[str, dict[str, list[float]]]  # per plotted series: {steps, values}, a spike-keeping envelope


_VAL = re.compile(r"(^|[/_.\- ])(val|valid|validation|eval|dev|test)([/_.\- ]|$)|^(val|eval)", re.I)
_LOSS = re.compile(r"loss|nll|perplexity|ppl", re.I)
_METRIC = re.compile(r"acc|accuracy|f1|auc|bleu|rouge|map\b|precision|recall|iou|dice|top1|top5", re.I)
_LR = re.compile(r"(^|[/_.\- ])(lr|learning[_ ]?rate)([/_.\- ]|\d|$)", re.I)
_PER_MODULE = "grad_norm_by_module/"  # the monitor's per-module gradient norms, flattened by the reader
_NESTED = re.compile(r"_by_module/|^(dead|saturated)_fraction/")


def roles(curves: dict[str, Series], metrics: list[str] | None = None, loss: str | None = None,
          val: str | None = None) -> dict[str, list[str]]:
    """Which series are training losses, validation losses and metrics: by name, or as named."""
    missing = [n for n in [*(metrics or []), loss, val] if n is not None and n not in curves]
    if missing:
        raise KeyError(f"no series named {', '.join(missing)}; available: {', '.join(sorted(curves))}")
    plain = [n for n in curves if not _NESTED.search(n)]
    losses = [loss] if loss else [n for n in plain if _LOSS.search(n) and not _VAL.search(n)]
    vals = [val] if val else [n for n in plain if _LOSS.search(n) and _VAL.search(n) and n != loss]
    if metrics:
        found = list(metrics)
    else:
        found = [n for n in plain if _METRIC.search(n) and not _LOSS.search(n)]
    return {"train": losses, "val": vals, "metrics": found, "lr": [n for n in plain if _LR.search(n)],
            "modules": [n for n in curves if n.startswith(_PER_MODULE)]}


def analyze(path: str | Path, metrics: list[str] | None = None, *, loss: str | None = None,
            val: str | None = None, step: str | None = None) -> Report:
    """Classify the curves of a log. `loss`, `val` and `step` name the training loss, validation loss
    and step columns when their names do not say so; `metrics` the metric series."""
    started = time.monotonic()
    log = read(path, step)
    curves = log.curves
    r = roles(curves, metrics, loss, val)
    if not r["train"] and not r["val"]:
        texts = [f"`{k}` holds text, not numbers (e.g. {v!r})" for k, v in log.text.items() if _LOSS.search(k)]
        raise KeyError(f"{path}: no loss series found among {', '.join(sorted(curves)[:12])}"
                       + (f" ({'; '.join(texts)})" if texts else "")
                       + "; name one with --loss or rename the column to contain 'loss'")
    losses = r["train"] + r["val"]
    events: list[Event] = []
    for name in losses:
        events += loss_events(name, curves[name])
    main = r["train"][0] if r["train"] else None
    if main:
        for v in r["val"]:
            events += pair_events(main, curves[main], v, curves[v])
        for m in r["metrics"]:
            events += metric_events(main, curves[main], m, curves[m])
    found = [finding(e.code, e.observation, "curves", evidence={**e.evidence, "series": e.series},
                     location={"series": e.series, "steps": [e.start, e.end]}) for e in events]
    found += _step_rules(curves, main, r["lr"])
    longest = max(len(curves[n].values) for n in losses)  # too short for every shape rule: say so
    unchecked = [] if longest >= MIN_POINTS else [
        f"the loss series ({', '.join(losses)}) have at most {longest} points; the shape rules need {MIN_POINTS}"]
    section = CurvesSection(path=str(path), seconds=round(time.monotonic() - started, 3), roles=r, notes=log.notes,
                            series={n: {**_summary(s), **_member(n)} for n, s in curves.items()},
                            # what the figures draw, so a renderer needs nothing but the report
                            plot={n: dict(zip(("steps", "values"), envelope(curves[n])))
                                  for n in dict.fromkeys(sum(r.values(), []))})
    return Report(command=f"curves {path}", findings=triage(found), sections={"curves": section}, unchecked=unchecked)


# Columns a step record carries (the Monitor's, or a user's log with the same names): judged by the
# rules `run` and the Monitor use, one row at a time. The loss shapes are judged on the whole series
# above, so the step rules' own loss-shape findings are dropped here.
_STEP_COLUMNS = ("grad_norm", "grad_norm_before_clip", "update_ratio")
_STEP_NESTED = ("dead_fraction/", "saturated_fraction/")
_SHAPE_CODES = {"loss-divergence", "loss-spikes", "loss-plateau", "overfitting"}
_MAX_ROWS = 100_000  # rows fed one at a time; longer logs are taken at an even stride (a bound on work)


def _step_rules(curves: dict[str, Series], loss: str | None, lr: list[str]) -> list:
    columns = [n for n in curves if n in _STEP_COLUMNS or n.startswith(_STEP_NESTED)]
    if not columns:
        return []
    rows: dict[float, dict] = {}
    for name in columns + ([loss] if loss else []) + lr[:1]:
        s = curves[name]
        key, _, layer = name.partition("/")
        key = {loss: "loss", (lr[:1] or [None])[0]: "lr"}.get(name, key)
        for t, v in zip(s.steps.tolist(), s.values.tolist()):
            row = rows.setdefault(t, {"step": int(t) if float(t).is_integer() else t})
            if layer:
                row.setdefault(key, {})[layer] = v
            else:
                row[key] = v
    steps = sorted(rows)
    stride = max(1, -(-len(steps) // _MAX_ROWS))
    rules = StepRules("curves")
    found = [f for t in steps[::stride] for f in rules.observe(rows[t])]
    return [f for f in found if f.code not in _SHAPE_CODES]


def _member(name: str) -> dict:
    """A per-module or per-layer series of a Monitor log says which group and member it is, so a renderer
    need not know the naming (`grad_norm_by_module/encoder.0` is member `encoder.0` of `grad_norm_by_module`)."""
    if not _NESTED.search(name):
        return {}
    group, _, member = name.partition("/")
    return {"group": group, "member": member}


def _summary(s: Series) -> dict:
    finite = s.values[np.isfinite(s.values)]
    return {"points": int(len(s.values)), "first_step": float(s.steps[0]), "last_step": float(s.steps[-1]),
            "first": float(finite[0]) if len(finite) else None, "last": float(finite[-1]) if len(finite) else None,
            "nonfinite": int(len(s.values) - len(finite))}
