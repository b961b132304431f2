"""Which column of a sweep's table is the metric, the seed, the group and the varied parameters.

Inferred from names and from what varies, each choice said in a note so a reader can override it
(`--metric`, `--seed`, `--group`, `--param`, `--higher-is-better/--lower-is-better`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pandas as pd

from .readers import Runs, SweepError

_SEED = re.compile(r"(^|[._/\-])(seed|random_seed|rng_seed|random_state)$", re.I)
_GROUP = ("group", "wandb_group", "run_group", "sweep", "sweep_id", "sweep_name", "experiment")
# Bookkeeping a run export carries beside its configuration: never a swept parameter.
_BOOKKEEPING = re.compile(r"^(_.*|state|status|notes?|user(_id)?|tags?|created(_at)?|updated(_at)?|runtime|duration|"
                          r"timestamp|start_time|end_time|host(name)?|artifact_uri|lifecycle_stage|source|url|path|"
                          r"step|global_step|iteration|iter|epoch|mlflow\..*|run_?(id|name)?|id|name|"
                          r"exit_?code|heartbeat.*)$", re.I)
_METRIC_NAME = re.compile(r"acc|loss|f1|auc|bleu|rouge|\bmap\b|precision|recall|iou|dice|top-?\d|error|\berr\b|score|"
                          r"reward|return|perplexity|ppl|nll|mse|mae|rmse|wer|cer|^si$|"
                          r"(^|[/_.])(val|valid|eval|test|train)([/_.]|$)", re.I)
_EVAL = re.compile(r"(^|[/_.\- ])(val|valid|validation|eval|dev|test)([/_.\- ]|$)|^(val|eval|test)", re.I)
_LOWER = re.compile(r"loss|err|perplex|ppl|nll|mse|mae|rmse|\bwer\b|\bcer\b|regret|divergence|distance", re.I)


@dataclass
class Roles:
    metric: str
    seed: str | None
    group: str | None
    params: list[str]
    higher_is_better: bool
    notes: list[str] = field(default_factory=list)
    between_groups: list[str] = field(default_factory=list)  # configuration that differs only from group to group


def infer(runs: Runs, *, metric: str | None = None, seed: str | None = None, group: str | None = None,
          params: list[str] | None = None, higher_is_better: bool | None = None) -> Roles:
    frame = runs.frame
    _exist(frame, [metric, seed, group, *(params or [])])
    notes: list[str] = []
    seed = seed or _first(frame, [c for c in frame.columns if _SEED.search(c)], "seed", notes)
    group = group or _first(frame, [c for c in frame.columns if c.lower() in _GROUP], "group", notes)
    metric = metric or _metric(runs, {seed, group}, notes)
    if pd.to_numeric(frame[metric], errors="coerce").isna().all() and frame[metric].notna().any():
        raise SweepError(f"the metric `{metric}` holds no numbers (e.g. {frame[metric].dropna().iloc[0]!r}); "
                         "choose another with --metric")
    taken = {runs.run, seed, group, metric}
    between = _between_groups(runs, taken, group)
    params = params or _params(runs, taken, group, notes)
    if higher_is_better is None:
        higher_is_better = not _LOWER.search(metric)
        notes.append(f"{'higher' if higher_is_better else 'lower'} `{metric}` is better, by its name "
                     f"(say otherwise with --{'lower' if higher_is_better else 'higher'}-is-better)")
    return Roles(metric, seed, group, params, higher_is_better, notes, [c for c in between if c not in params])


def _exist(frame: pd.DataFrame, names: list[str | None]) -> None:
    missing = [n for n in names if n is not None and n not in frame.columns]
    if missing:
        raise SweepError(f"no column named {', '.join(missing)}; the runs have: {', '.join(map(str, frame.columns))}")


def _first(frame: pd.DataFrame, found: list[str], role: str, notes: list[str]) -> str | None:
    found = [c for c in found if frame[c].notna().any()]
    if len(found) > 1:
        notes.append(f"{role}: `{found[0]}` (also found {', '.join(found[1:])}; choose with --{role})")
    return found[0] if found else None


def _metric(runs: Runs, taken: set, notes: list[str]) -> str:
    frame = runs.frame
    pool = runs.metrics if runs.metrics else [c for c in frame.columns if _METRIC_NAME.search(c)
                                              and c not in (runs.config or ()) and not _repeats(frame[c])]
    pool = [c for c in pool if c not in taken and _numeric(frame[c])]
    if not pool:
        raise SweepError("no metric column found (named like acc, loss, f1, score, reward, val/...); "
                         f"name it with --metric; the runs have: {', '.join(map(str, frame.columns))}")
    # An evaluation metric first, then an evaluation loss, then any metric, then a loss.
    ranked = sorted(pool, key=lambda c: (not _EVAL.search(c), bool(_LOWER.search(c)), pool.index(c)))
    if len(ranked) > 1:
        notes.append(f"metric: `{ranked[0]}` (of {', '.join(ranked)}; choose with --metric)")
    return ranked[0]


def _pool(runs: Runs, taken: set) -> list[str]:
    """The columns that may be configuration."""
    pool = runs.config if runs.config is not None else [
        c for c in runs.frame.columns if not _BOOKKEEPING.match(c)
        and (not _METRIC_NAME.search(c) or _repeats(runs.frame[c]))]  # loss_weight=0.5 on many runs: a setting
    return [c for c in pool if c not in taken and c in runs.frame.columns]


def _between_groups(runs: Runs, taken: set, group: str | None) -> list[str]:
    """Configuration constant within each group that differs between groups."""
    if group is None:
        return []
    frame = runs.frame
    return [c for c in _pool(runs, taken) if _hashable(frame[c]).nunique(dropna=False) > 1
            and (frame.groupby(group, dropna=False)[c].agg(lambda x: _hashable(x).nunique(dropna=False)) <= 1).all()]


def _params(runs: Runs, taken: set, group: str | None, notes: list[str]) -> list[str]:
    """Configuration columns that take more than one value within some group."""
    frame = runs.frame
    pool = _pool(runs, taken)
    groups = [frame] if group is None else [g for _, g in frame.groupby(group, dropna=False)]
    varied = [c for c in pool if any(_hashable(g[c]).nunique(dropna=False) > 1 for g in groups)]
    ids = [c for c in varied if runs.config is None and not _numeric(frame[c])
           and frame[c].nunique() == len(frame) > 3]  # a distinct text per run names it; it is no setting
    if ids:
        notes.append(f"not read as parameters (a different text on every run): {', '.join(ids)}; name one with --param")
    return [c for c in varied if c not in ids]


def _repeats(column: pd.Series) -> bool:
    """A setting takes the same value on many runs; a measured metric hardly ever repeats."""
    values = _hashable(column.dropna())
    return len(values) > 2 and values.nunique() <= len(values) / 2


def _numeric(column: pd.Series) -> bool:
    values = column.dropna()
    return bool(len(values)) and pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def _hashable(column: pd.Series) -> pd.Series:
    return column.map(lambda v: repr(v) if isinstance(v, (list, dict, set)) else v)
