"""From a sweep's runs to a Report: read, find the roles, compute each parameter's numbers within each
group, judge them. Runs whose metric is NaN or infinite are listed, never dropped silently."""

from __future__ import annotations

from itertools import combinations
from pathlib import Path
from typing import Any, TypedDict

import numpy as np
import pandas as pd

from ..vocabulary.finding import Finding
from ..vocabulary.report import Report
from ..vocabulary.triage import triage
from . import stats
from .readers import Runs, read
from .roles import Roles, infer
from .rules import confounded, judge
from .stats import METRIC, SEED, VALUE, Z

_ONE_SEED = "(one seed)"
_ALL = ""


class SweepsSection(TypedDict):
    """The `sweeps` section of a report."""

    path: str
    metric: str
    higher_is_better: bool
    reduce: str  # final | best: which value of each run's metric
    columns: dict[str, Any]  # run, seed, group: the columns that play those parts
    parameters: list[str]
    runs: int
    nonfinite_runs: list[dict[str, Any]]  # runs whose metric is NaN/inf: excluded from the numbers, listed here
    notes: list[str]
    groups: dict[str, dict[str, Any]]  # group -> {runs, seeds, parameters: {name: stats.parameter(...)}, also_varies}


def analyze(source: str | Path | pd.DataFrame, *, metric: str | None = None, seed: str | None = None,
            group: str | None = None, params: list[str] | None = None, higher_is_better: bool | None = None,
            best: bool = False) -> Report:
    """The report of a sweep at `source` (a path, or a DataFrame of runs, left unchanged); the keyword
    arguments override what is inferred: the metric, seed and group columns, the parameters, the direction,
    and each run's best metric instead of its final one."""
    runs = read(source)
    roles = infer(runs, metric=metric, seed=seed, group=group, params=params, higher_is_better=higher_is_better)
    notes = runs.notes + roles.notes
    frame = _columns(runs, roles, best, notes)
    bad = ~np.isfinite(frame[METRIC])
    nonfinite = [_describe(runs, roles, row) for _, row in frame[bad].iterrows()]
    if nonfinite:
        many = len(nonfinite) > 1
        notes.append(f"{len(nonfinite)} run{'s' * many} with a non-finite {roles.metric} (diverged, or the evaluation "
                     f"crashed?) {'are' if many else 'is'} left out of the numbers: {', '.join(r['run'] for r in nonfinite[:8])}"
                     + (" ..." if len(nonfinite) > 8 else "") + "; read their logs")
    finite = frame[~bad].copy()
    finite[Z] = stats.zscores(finite, ["__group", SEED])
    unchecked = _unchecked(runs, roles, finite)
    found: list[Finding] = []
    groups: dict[str, dict[str, Any]] = {}
    if not unchecked:
        groups, found = _groups(finite, roles, notes)
        if not any(g["parameters"] for g in groups.values()):
            unchecked.append(f"no parameter takes two values within a group among runs with a finite {roles.metric}")
    section = SweepsSection(
        path=str(source) if not isinstance(source, pd.DataFrame) else "<DataFrame>", metric=roles.metric,
        higher_is_better=roles.higher_is_better, reduce="best" if best else "final",
        columns={"run": runs.run, "seed": roles.seed, "group": roles.group}, parameters=roles.params,
        runs=len(frame), nonfinite_runs=nonfinite, notes=notes, groups=groups)
    command = f"sweeps {source}" if not isinstance(source, pd.DataFrame) else "sweeps <DataFrame>"
    return Report(command=command, findings=triage(_combine(found)), sections={"sweeps": section}, unchecked=unchecked)


def _combine(found: list[Finding]) -> list[Finding]:
    """One finding per code, saying each parameter (and group) it concerns: a report reads one finding per
    code, and the second parameter's numbers must not hide in the first one's evidence."""
    by_code: dict[str, list[Finding]] = {}
    for f in found:
        by_code.setdefault(f.code, []).append(f)
    out = []
    for code, same in by_code.items():
        first = same[0]
        first.evidence = {"by_parameter": [{**f.location, **f.evidence} for f in same]}
        if len(same) > 1:
            first.observation = " · ".join(f.observation for f in same)
            first.location = {"parameters": [f.location for f in same]}
        out.append(first)
    return out


def _columns(runs: Runs, roles: Roles, best: bool, notes: list[str]) -> pd.DataFrame:
    """The runs with the analysis' own columns: group, seed and the metric (final or best)."""
    frame = runs.frame.copy()
    frame["__group"] = frame[roles.group].astype(str) if roles.group else _ALL
    frame[SEED] = frame[roles.seed] if roles.seed else _ONE_SEED
    frame[METRIC] = pd.to_numeric(frame[roles.metric], errors="coerce").astype(float)
    if best:
        if runs.history and any(roles.metric in h for h in runs.history.values()):
            pick = np.nanmax if roles.higher_is_better else np.nanmin
            frame[METRIC] = [_best(runs.history.get(r, {}).get(roles.metric), pick, m)
                             for r, m in zip(frame[runs.run], frame[METRIC])]
        else:
            notes.append(f"--best: the runs hold one value of {roles.metric} each; read as given")
    return frame


def _best(values: np.ndarray | None, pick, final: float) -> float:
    if values is None or not np.isfinite(values).any():
        return final
    return float(pick(values[np.isfinite(values)]))


def _unchecked(runs: Runs, roles: Roles, finite: pd.DataFrame) -> list[str]:
    if finite.empty:
        return [f"no run has a finite {roles.metric}"]
    if not roles.params:
        return ["no varied parameter found among the runs' configuration; name them with --param"]
    if roles.seed is None and finite.duplicated(["__group", *roles.params]).any():
        return ["runs repeat a configuration but no column says their seed, so they cannot be paired; "
                "name the seed column with --seed"]
    return []


def _groups(finite: pd.DataFrame, roles: Roles, notes: list[str]) -> tuple[dict, list[Finding]]:
    groups, found = {}, []
    for name, g in finite.groupby("__group", sort=True):
        varied = [p for p in roles.params if g[p].map(_key).nunique() > 1]
        labels = _labels(g, varied)
        if labels:
            notes.append(f"{'group ' + name + ': ' if name else ''}" + "; ".join(
                f"`{a}` names the `{b}` values one to one: read as a label of {b}, not a parameter" for a, b in labels.items()))
            varied = [p for p in varied if p not in labels]
        entry = {"runs": int(len(g)), "seeds": [stats.plain(s) for s in sorted(g[SEED].unique(), key=str)],
                 "parameters": {}, "also_varies": {}}
        for p in varied:
            sub = g.assign(**{VALUE: g[p].map(_key)})
            st = stats.parameter(sub)
            entry["parameters"][p] = st
            found += judge(name, p, st, roles.metric, roles.higher_is_better)
        for a, b in combinations(varied, 2):
            v = stats.association(g[a], g[b])
            entry["also_varies"].setdefault(a, []).append({"parameter": b, "cramers_v": v})
            entry["also_varies"].setdefault(b, []).append({"parameter": a, "cramers_v": v})
            pairs = {str(k): sorted(map(str, w[b].unique())) for k, w in g.groupby(a, sort=True)}
            f = confounded(name, a, b, v, pairs)
            found += [f] if f else []
        if len(varied) > 1:
            notes.append(f"{'group ' + name + ': ' if name else ''}{', '.join(varied)} all vary; each is compared "
                         "with the others averaged over (a full grid is fair; see confounded-sweep otherwise)")
        for p, st in entry["parameters"].items():
            if st["unpaired_seeds"]:
                seeds = st["unpaired_seeds"]
                notes.append(f"{'group ' + name + ': ' if name else ''}`{p}`: seed{'s' * (len(seeds) > 1)} "
                             f"{', '.join(map(str, seeds[:6]))} did not run every value, left out of the paired numbers")
        groups[name] = entry
    if len(groups) > 1:
        notes.append(f"{len(groups)} groups are analysed apart: compare values within a group, not one group's best "
                     "against another's (their base configurations and dates may differ)")
    if roles.between_groups:
        notes.append(f"{', '.join(roles.between_groups)} differ only between groups: not compared (the groups may "
                     "differ in more than that)")
    return groups, found


def _labels(g: pd.DataFrame, varied: list[str]) -> dict[str, str]:
    """Text columns that only spell out another parameter's value (`out_dir` = "runs/lr0.001" for
    lr=0.001): one to one with it, each text containing the value. A second parameter changed along with
    the first (optimizer "sgd" with lr 0.1) does not contain it, and stays a confounder."""
    out = {}
    for a in varied:
        if g[a].map(lambda v: isinstance(v, str)).all():
            for b in varied:
                pairs = g[[a, b]].drop_duplicates()
                if b != a and b not in out and len(pairs) == g[a].nunique() == g[b].map(_key).nunique() \
                        and all(_spells(t, v) for t, v in zip(pairs[a], pairs[b])):
                    out[a] = b
                    break
    return out


def _spells(text: str, value) -> bool:
    """Whether `text` writes `value` (0.001 as 0.001, 1e-3, 1e-03; 64 as 64; "adam" as adam)."""
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        forms = {str(value), f"{value:g}", f"{value:.0e}", f"{value:e}".replace("e-0", "e-").replace(".000000", "")}
        forms |= {f.replace("e-0", "e-") for f in list(forms)}
    else:
        forms = {str(value)}
    return any(f and f in text for f in forms)


def _key(v):
    """A parameter value as a comparable key: lists and dicts by their text."""
    return repr(v) if isinstance(v, (list, dict, set)) else v


def _describe(runs: Runs, roles: Roles, row: pd.Series) -> dict[str, Any]:
    out = {"run": str(row[runs.run]), "metric": stats.num(row[METRIC]) if np.isfinite(row[METRIC]) else str(row[METRIC])}
    for key, column in (("group", roles.group), ("seed", roles.seed)):
        if column:
            out[key] = stats.plain(row[column])
    out["config"] = {p: stats.plain(row[p]) for p in roles.params}
    return out
