"""From datasets to a Report: read each split once, assign roles, run the checks of the domain."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any

from ..vocabulary.report import Report
from ..vocabulary.triage import triage
from .evaluation import KEYS as EVALUATION_KEYS, Evaluation
from .histograms import describe
from .profile import Profile, profile
from .roles import Roles, assign
from .sources import DataError, open_source
from .summary import section

SAMPLE_CAP = 50_000  # samples read from a Dataset or DataLoader (files are read whole, streamed)
DOMAINS = ("generic", "driving", "robotics")


@dataclass
class Audit:
    """What the checks read: the profiles of the splits and the roles of the columns."""

    train: Profile
    evals: list[Profile]
    roles: Roles
    evaluation: Evaluation = field(default_factory=Evaluation)
    schedule: Any = None  # a diffusion or flow noise schedule, judged against the actions (robotics.read_schedule)
    tables: dict[str, Any] = field(default_factory=dict)  # what a check measured beyond its findings, for the report

    def features(self, p: Profile | None = None) -> list[tuple[str, int, str]]:
        """(column, index, dimension) of every numeric feature dimension (not a target, time, group or id, nor
        a model's result: a metric, prediction or probabilities)."""
        special = self.roles.special() | (self.evaluation.columns() - set(self.evaluation.slices))
        return [d for d in (p or self.train).dims() if d[0] not in special]

    def targets(self, p: Profile | None = None) -> list[tuple[str, int, str]]:
        return [d for d in (p or self.train).dims() if d[0] in self.roles.target]

    def series(self) -> "Audit":
        """The audit the series checks read: a split whose row sample thins it is read over its stretches
        of consecutive rows instead (series.in_stretches); the tables are shared."""
        from .series import in_stretches  # series reads Audit

        return replace(self, train=in_stretches(self.train), evals=[in_stretches(p) for p in self.evals])


def audit_data(train: Any, eval: Any = None, *, domain: str = "generic", sample_cap: int = SAMPLE_CAP,
               command: str | None = None, schedule: Any = None, model: str | None = None, **roles: Any) -> Report:
    """Audit a dataset before training on it. `train` and `eval` (one, or a list of evaluation splits) are
    paths (CSV, TSV, JSONL, parquet, .npz, .npy, a torch.save'd dict of tensors, a directory of them),
    `module.py:function`, or in-memory datasets (a dict of arrays or tensors, a DataFrame, a torch
    Dataset or DataLoader). Roles name columns: target (or label, action), time, episode or group, id.
    A model's results, when the split holds them: `slice` (categorical columns to break the metric down by),
    `metric` (a per-row metric) or `prediction`, and `probs` (out-of-sample class probabilities, for
    confident learning). `schedule`: a diffusion or flow noise schedule the actions will be trained with
    (robotics: "linear", "cosine", "flow", a .npy of betas, a .json or dict). `model`: `module.py:function`
    returning a model or pipeline (or `(model, batch)`), traced for cross-sample leakage (tracing.py). Raises
    DataError when a split cannot be read."""
    from .checks import CHECKS, SERIES

    if domain not in DOMAINS:
        raise DataError(f"unknown domain {domain!r}; choose from {', '.join(DOMAINS)}")
    started = time.monotonic()
    evals = [] if eval is None else list(eval) if isinstance(eval, (list, tuple)) else [eval]
    evaluation = Evaluation.of({k: roles.pop(k) for k in EVALUATION_KEYS if k in roles})
    decided: dict[str, Roles] = {}

    def roles_of(columns: list[str]) -> Roles:  # decided on the training split's columns, kept for the others
        if "roles" not in decided:
            decided["roles"] = assign(columns, roles)
            absent = sorted(evaluation.columns() - set(columns))
            if absent:
                raise DataError(f"no column named {', '.join(absent)}; the columns are {', '.join(columns[:40])}")
        return decided["roles"]

    names = ["train"] + (["eval"] if len(evals) == 1 else [f"eval{i + 1}" for i in range(len(evals))])
    profiles = [profile(open_source(spec, name, sample_cap), roles_of) for spec, name in zip([train, *evals], names)]
    unchecked = [f"{p.name}: no rows read" for p in profiles if p.rows == 0]
    found = []
    notes = [n for p in profiles for n in p.notes]
    tables: dict[str, Any] = {}
    if "roles" in decided and not unchecked:
        a = Audit(profiles[0], profiles[1:], decided["roles"], evaluation, schedule=schedule)
        series = a.series()
        for check in CHECKS["generic"] + (CHECKS.get(domain, []) if domain != "generic" else []):
            found += check(series if check in SERIES else a)
        if model is not None:
            from .tracing import trace_model

            traced, a.tables["leakage"] = trace_model(model, a)
            found += traced
        _columns_differ(a, notes)
        tables = a.tables
    if domain != "generic" and not CHECKS.get(domain):
        notes.append(f"the {domain} checks are not available yet; the generic checks ran")
    report_roles = decided["roles"].to_dict() if "roles" in decided else {}
    if any(evaluation.to_dict().values()):
        report_roles["evaluation"] = evaluation.to_dict()
    data = section(profiles, report_roles, domain, notes, time.monotonic() - started)
    describe(data, profiles, decided.get("roles"))
    data.update(tables)
    return Report(command=command or f"data {profiles[0].name}", findings=triage(found), unchecked=unchecked,
                  sections={"data": data})


def _columns_differ(a: Audit, notes: list[str]) -> None:
    for p in a.evals:
        missing = sorted(set(a.train.layouts) - set(p.layouts))
        if missing:
            notes.append(f"{p.name} lacks column(s) {', '.join(missing[:10])} of train; they were not compared")
