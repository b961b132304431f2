"""The robotics checks (`--domain robotics`): rows are steps of demonstrations, with observations and
actions. The per-dimension statistics and outliers of the actions are the generic checks' (the actions
are targets); these add what only control data has: the lag between an action and the observation it
moves, how discretised actions fill their bins, binary (gripper) dimensions, a diffusion or flow noise
schedule judged against the actions' scale, and demonstrations that disagree for one observation.

Columns: `action` as named (else the target, or a column named action), `obs` as named (else columns named
obs/observation/state/qpos/proprio, else every feature). A noise schedule is given by `schedule=`
(`--schedule`): see `read_schedule`. Numbers in judge/thresholds.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..judge.thresholds import (
    ACTION_BINS, ACTION_LAG_CORR, BIMODAL_MIN_SHARE, BIMODAL_NEIGHBOURHOODS, BIMODAL_NEIGHBOURS, BIMODAL_PREDICTED,
    BIMODAL_GAP, BIMODAL_SEPARATION, BIN_EFFECTIVE, LAG_MAX, SCHEDULE_STD, TERMINAL_SNR,
)
from ..vocabulary.finding import Finding, finding
from ..vocabulary.numbers import fmt
from .audit import Audit
from ..judge.columns import _outliers
from ..measure.profile import Profile
from .series import column, cross_correlation, in_time_order, key, keys, peak, whole

SOURCE = "data"
OBS_NAMES = {"obs", "observation", "observations", "state", "states", "qpos", "proprio", "proprioception", "robotstate"}
QUERIES = 300  # observations whose neighbourhoods are examined for bimodal actions
MAX_OBS_DIMS = 64  # nearest neighbours mean little beyond (images): the bimodality check is skipped


# ── columns ─────────────────────────────────────────────────────────────────────────────────────

def _action_dims(a: Audit, p: Profile) -> list[tuple[str, int, str]]:
    cols = a.roles.actions or a.roles.target
    return [(c, i, d) for c, i, d in p.dims() if c in cols and not p.layouts[c].pooled]


def _obs_dims(a: Audit, p: Profile) -> list[tuple[str, int, str]]:
    named = a.roles.named.get("obs")
    features = [d for d in a.features(p) if not p.layouts[d[0]].pooled]
    if named:
        return [d for d in p.dims() if d[0] in named and not p.layouts[d[0]].pooled]
    by_name = [d for d in features if key(d[0]) in OBS_NAMES]
    return by_name or features


def _matrix(a: Audit, p: Profile, dims: list[tuple[str, int, str]]) -> np.ndarray:
    if not dims:
        return np.empty((0, 0))
    return np.column_stack([column(a, p, c)[:, i] for c, i, _ in dims])


def _continuous(p: Profile, c: str, i: int) -> bool:
    distinct = p.counts[c][i].distinct
    return distinct is None or distinct > 2


# ── observation-action lag ──────────────────────────────────────────────────────────────────────

def action_lag(a: Audit) -> list[Finding]:
    p = a.train
    acts, obs = _action_dims(a, p), _obs_dims(a, p)
    if not acts or not obs or not whole(p):
        return []
    A, O = _matrix(a, p, acts), _matrix(a, p, obs)
    eps = [e for e in in_time_order(a, p) if len(e) > 2 * LAG_MAX]
    if not eps:
        return []
    best = shown = None  # shown: the strongest pair's cross-correlation, for the report's figure
    for j, (_, _, aname) in enumerate(acts):
        da = [np.diff(A[e, j]) for e in eps]  # index m: the change of the action at step m + 1
        for i, (_, _, oname) in enumerate(obs):
            moves = [np.diff(O[e, i])[1:] for e in eps]  # index m: the observation's change from m + 1 to m + 2
            for relation, ys in (("velocity", [np.diff(m, prepend=np.nan) for m in moves]), ("position", moves)):
                corr = np.abs(cross_correlation(da, ys, LAG_MAX))
                found = peak(corr, LAG_MAX)
                if found and (shown is None or found[1] > shown[0]):
                    shown = (found[1], {"action": aname, "obs": oname, "relation": relation,
                                        "lags": list(range(-LAG_MAX, LAG_MAX + 1)),
                                        "corr": [float(c) if np.isfinite(c) else None for c in corr]})
                if found and found[1] >= ACTION_LAG_CORR and (best is None or found[1] > best["corr"]):
                    best = {"action": aname, "obs": oname, "relation": relation, "lag": -found[0], "corr": found[1],
                            "corr_aligned": float(corr[LAG_MAX]) if np.isfinite(corr[LAG_MAX]) else None}
    if shown is not None:
        a.tables.setdefault("robotics", {})["lag_correlation"] = shown[1]
    if best is None or best["lag"] == 0:
        return []
    when = (f"{best['lag']} step(s) after the observation it moved" if best["lag"] > 0
            else f"{-best['lag']} step(s) before it can act")
    return [finding("action-lag", f"the actions of {p.name} are recorded {when}: the changes of `{best['action']}` "
                    f"match the changes of `{best['obs']}` best at a lag of {best['lag']:+d} step(s) (correlation "
                    f"{best['corr']:.2f}, against {fmt(best['corr_aligned'] or 0.0)} aligned)", SOURCE,
                    evidence=best, location={"split": p.name, "columns": [best["action"], best["obs"]]})]


# ── discretised actions ─────────────────────────────────────────────────────────────────────────

def bin_coverage(a: Audit) -> list[Finding]:

    p, out = a.train, []
    for c, i, name in _action_dims(a, p):
        if _outliers(p, c, i):
            continue
        values = column(a, p, c)[:, i]
        values = values[np.isfinite(values)]
        if len(values) < 10 * ACTION_BINS ** 0.5 or not _continuous(p, c, i):
            continue
        coded = np.all(values == np.round(values)) and p.counts[c][i].distinct is not None
        lo, hi = float(p.moments[c].min[i]), float(p.moments[c].max[i])
        bins = int(hi - lo + 1) if coded else ACTION_BINS
        if hi <= lo or bins < 16:
            continue
        scaled = (values - lo) if coded else (values - lo) / (hi - lo) * bins
        idx = np.minimum(scaled.astype(int), bins - 1)
        counts = np.bincount(idx, minlength=bins)
        coverage = a.tables.setdefault("robotics", {}).setdefault("bins", {})
        coverage[name] = {"bins": bins, "coded": bool(coded), "min": lo, "max": hi, "counts": counts.tolist()}
        share = counts[counts > 0] / len(values)
        effective = float(np.exp(-(share * np.log(share)).sum()))
        if effective / bins < BIN_EFFECTIVE:
            out.append({"dim": name, "bins": bins, "used": int((counts > 0).sum()), "effective": effective,
                        "coded": bool(coded), "min": lo, "max": hi,
                        "percentile_edges": np.quantile(values, np.linspace(0, 1, 9)).tolist()})
    if not out:
        return []
    return [finding("bin-coverage", f"{len(out)} action dimension(s) of {p.name} use few of their bins: "
                    + "; ".join(f"`{d['dim']}` fills {d['used']} of {d['bins']} "
                                + ("codes" if d["coded"] else f"uniform bins over [{fmt(d['min'])}, {fmt(d['max'])}]")
                                + f", {d['effective']:.0f} effectively" for d in out[:5])
                    + "; bin edges at the actions' percentiles would use them all", SOURCE,
                    evidence={"dims": out}, location={"split": p.name, "columns": [d["dim"] for d in out]})]


def binary_actions(a: Audit) -> list[Finding]:
    p = a.train
    dims = _action_dims(a, p)
    binary = [(c, i, n) for c, i, n in dims if p.counts[c][i].distinct == 2]
    if not binary or len(binary) == len(dims):
        return []
    values = {n: sorted(p.counts[c][i].counts) for c, i, n in binary}
    return [finding("binary-action", f"{len(binary)} of the {len(dims)} action dimensions of {p.name} take two values "
                    "among continuous ones: "
                    + ", ".join(f"`{n}` ∈ {{{fmt(v[0])}, {fmt(v[1])}}}" for n, v in values.items())
                    + "; a regression loss predicts their mean when unsure, a gripper half open", SOURCE,
                    evidence={"dims": values}, location={"split": p.name, "columns": list(values)})]


# ── noise schedules ─────────────────────────────────────────────────────────────────────────────

@dataclass
class Schedule:
    """A diffusion schedule (alpha_bar per step, noise grows with the step) or a flow (x_t = (1 - t) x + t noise
    for t in [t_min, t_max], t = 0 the data); `prediction`: what the network predicts."""

    kind: str
    alpha_bar: np.ndarray | None = None
    t_min: float = 0.0
    t_max: float = 1.0
    prediction: str = "epsilon"
    source: str = ""


def read_schedule(spec: Any) -> Schedule:
    """A schedule from: "linear" / "cosine" (DDPM's, 1000 steps; "linear:100" for 100), "flow" (t in [0, 1],
    velocity prediction); a path to a .npy/.txt of betas or a .json; a dict with `betas` or `alphas_cumprod`
    (and `prediction`: epsilon, x or velocity), or `kind: flow` with `t_min`, `t_max`, `prediction`; an array
    of betas."""
    from .sources import DataError

    if isinstance(spec, Schedule):
        return spec
    if isinstance(spec, (str, Path)) and Path(spec).suffix in (".npy", ".txt", ".json") and Path(spec).exists():
        path = Path(spec)
        if path.suffix == ".json":
            return _from_dict(json.loads(path.read_text()), str(path))
        betas = np.load(path) if path.suffix == ".npy" else np.loadtxt(path)
        return _from_dict({"betas": betas}, str(path))
    if isinstance(spec, str):
        name, _, steps = spec.partition(":")
        if name == "flow":
            return Schedule("flow", t_min=float(steps or 0.0), prediction="velocity", source=spec)
        if name in ("linear", "cosine"):
            return _from_dict({"betas": _named_betas(name, int(steps or 1000))}, spec)
        raise DataError(f"unknown schedule {spec!r}; give linear, cosine, flow, a .npy/.txt of betas or a .json")
    if isinstance(spec, dict):
        return _from_dict(spec, "dict")
    return _from_dict({"betas": np.asarray(spec, dtype=float)}, "array")


def _from_dict(d: dict, source: str) -> Schedule:
    from .sources import DataError

    prediction = str(d.get("prediction", "epsilon"))
    if d.get("kind") == "flow":
        return Schedule("flow", t_min=float(d.get("t_min", 0.0)), t_max=float(d.get("t_max", 1.0)),
                        prediction=str(d.get("prediction", "velocity")), source=source)
    if "alphas_cumprod" in d:
        ab = np.asarray(d["alphas_cumprod"], dtype=float)
    elif "betas" in d:
        ab = np.cumprod(1.0 - np.asarray(d["betas"], dtype=float))
    else:
        raise DataError(f"schedule {source}: give betas, alphas_cumprod or kind: flow")
    if ab.ndim != 1 or len(ab) < 2 or not np.all((ab > 0) & (ab <= 1)):
        raise DataError(f"schedule {source}: alphas_cumprod must be a 1-D series in (0, 1]")
    return Schedule("diffusion", alpha_bar=ab, prediction=prediction, source=source)


def _named_betas(name: str, steps: int) -> np.ndarray:
    if name == "linear":  # Ho et al. 2020, scaled to the number of steps as diffusers does
        scale = 1000 / steps
        return np.linspace(scale * 1e-4, scale * 0.02, steps)
    t = np.linspace(0, steps, steps + 1) / steps  # Nichol & Dhariwal 2021 (squaredcos_cap_v2)
    f = np.cos((t + 0.008) / 1.008 * np.pi / 2) ** 2
    return np.minimum(1 - f[1:] / f[:-1], 0.999)


def noise_schedule(a: Audit) -> list[Finding]:
    spec = getattr(a, "schedule", None)
    if spec is None:
        return []
    s = read_schedule(spec)
    p = a.train
    dims = [d for d in _action_dims(a, p) if _continuous(p, d[0], d[1])]
    stds = {n: float(p.moments[c].std[i]) for c, i, n in dims if p.moments[c].std[i] > 0}
    if not stds:
        return []
    big, small = max(stds, key=stds.get), min(stds, key=stds.get)
    problems = []
    terminal = _terminal_snr(s) * stds[big] ** 2
    if terminal >= TERMINAL_SNR:
        problems.append(f"at the last step the signal-to-noise ratio of `{big}` (std {fmt(stds[big])}) is "
                        f"{fmt(terminal)}: the noisiest sample still shows the action, and sampling starts from noise "
                        "the model never saw")
    if stds[big] > SCHEDULE_STD[1] or stds[small] < SCHEDULE_STD[0]:
        odd = big if stds[big] > SCHEDULE_STD[1] else small
        problems.append(f"schedules are tuned for data in [-1, 1] or of unit std, but `{odd}` has std "
                        f"{fmt(stds[odd])}: every step's signal-to-noise ratio is {stds[odd] ** 2:.3g} times that of "
                        "unit data")
    problems += _singular_end(s)
    if not problems:
        return []
    return [finding("noise-schedule-mismatch", f"the noise schedule ({s.source}) does not fit the actions of "
                    f"{p.name}: " + "; ".join(problems), SOURCE,
                    evidence={"schedule": s.source, "kind": s.kind, "terminal_snr": terminal, "std": stds,
                              "t_min": s.t_min, "t_max": s.t_max, "prediction": s.prediction},
                    location={"split": p.name, "columns": list(stds)})]


def _terminal_snr(s: Schedule) -> float:
    """The signal-to-noise ratio of unit-scale data at the noisiest step."""
    if s.kind == "flow":
        return 0.0 if s.t_max >= 1 else ((1 - s.t_max) / s.t_max) ** 2
    ab = float(s.alpha_bar[-1])
    return ab / (1 - ab) if ab < 1 else np.inf


def _singular_end(s: Schedule) -> list[str]:
    """Ends of the time range where the network's target is undefined: it must be clamped away from them."""
    if s.kind == "flow":
        if s.prediction in ("x", "sample", "x0") and s.t_min <= 0:
            return ["t starts at 0, where a predicted action becomes a velocity by dividing by t: clamp t away from 0"]
        if s.prediction in ("epsilon", "noise") and s.t_max >= 1:
            return ["t reaches 1, where a predicted noise becomes a velocity by dividing by 1 - t: clamp t below 1"]
        return []
    if s.prediction in ("epsilon", "noise") and s.alpha_bar[0] >= 1:
        return ["the first step adds no noise (beta = 0), so the noise to predict is invisible there"]
    return []


# ── demonstrations that disagree ────────────────────────────────────────────────────────────────

def bimodal(a: Audit) -> list[Finding]:
    p = a.train
    acts = [d for d in _action_dims(a, p) if _continuous(p, d[0], d[1])]
    obs = _obs_dims(a, p)
    if not acts or not obs or len(obs) > MAX_OBS_DIMS:
        return []
    X, Y = _standard(_matrix(a, p, obs)), _standard(_matrix(a, p, acts))
    keep = np.isfinite(X).all(1) & np.isfinite(Y).all(1)
    group = _episode_keys(a, p)
    X, Y, group = X[keep], Y[keep], group[keep]
    if len(X) < 10 * BIMODAL_NEIGHBOURS:
        return []
    queries = np.linspace(0, len(X) - 1, min(QUERIES, len(X))).astype(int)
    judged = split = 0
    for q in queries:
        others = np.flatnonzero(group != group[q])  # frames of one episode are alike: another demonstration's say
        if len(others) < BIMODAL_NEIGHBOURS:
            continue
        near = others[np.argsort(((X[others] - X[q]) ** 2).sum(1))[:BIMODAL_NEIGHBOURS]]
        judged += 1
        split += _split_unpredictably(X[near], Y[near])
    if not judged or split / judged < BIMODAL_NEIGHBOURHOODS:
        return []
    return [finding("bimodal-actions", f"for {split} of {judged} sampled observations of {p.name}, the demonstrations "
                    f"at the nearest observations split into two distant groups of actions, and the observation does "
                    f"not tell which: a mean-squared error will average them into an action no demonstrator took",
                    SOURCE, evidence={"neighbourhoods": judged, "bimodal": split, "share": split / judged},
                    location={"split": p.name, "columns": [d[2] for d in acts]})]


def _standard(m: np.ndarray) -> np.ndarray:
    std = np.nanstd(m, axis=0)
    varying = std > 0
    return (m[:, varying] - np.nanmean(m[:, varying], axis=0)) / std[varying]


def _episode_keys(a: Audit, p: Profile) -> np.ndarray:
    g = next((g for g in a.roles.groups if g in p.sample.rows), None)
    return np.arange(len(next(iter(p.sample.rows.values())))) if g is None else keys(p, g)


def _split_unpredictably(X: np.ndarray, Y: np.ndarray) -> bool:
    """Two-means on the actions; distant, both sizeable clusters with an empty stretch between them, whose
    membership the nearest other observation predicts no better than halfway from chance to certainty."""
    labels = _two_means(Y)
    sizes = np.bincount(labels, minlength=2) / len(labels)
    if sizes.min() < BIMODAL_MIN_SHARE:
        return False
    centres = np.array([Y[labels == k].mean(0) for k in (0, 1)])
    within = max(float(np.sqrt(np.mean([((Y[labels == k] - centres[k]) ** 2).sum(1).mean() for k in (0, 1)]))), 1e-12)
    between = np.linalg.norm(centres[0] - centres[1])
    if between < BIMODAL_SEPARATION * within:
        return False
    # an empty stretch between the groups, where their mean falls: wide against the spacing of the other
    # actions along the line of centres (one spread-out mode has no such gap)
    proj = (Y - centres[0]) @ ((centres[1] - centres[0]) / between)
    gap = proj[labels == 1].min() - proj[labels == 0].max()
    spacing = (proj.max() - proj.min() - gap) / max(len(proj) - 2, 1)
    if gap < BIMODAL_GAP * spacing:
        return False
    d = ((X[:, None, :] - X[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    accuracy = float(np.mean(labels[d.argmin(1)] == labels))
    chance = float((sizes ** 2).sum())
    return accuracy < chance + BIMODAL_PREDICTED * (1 - chance)


def _two_means(Y: np.ndarray) -> np.ndarray:
    """Two clusters, started from the extremes of the first principal direction; deterministic."""
    centred = Y - Y.mean(0)
    direction = np.linalg.svd(centred, full_matrices=False)[2][0]
    proj = centred @ direction
    centres = np.array([Y[proj.argmin()], Y[proj.argmax()]])
    labels = np.full(len(Y), -1)
    for _ in range(20):
        new = ((Y[:, None, :] - centres[None]) ** 2).sum(-1).argmin(1)
        if np.array_equal(new, labels) or new.min() == new.max():
            return new
        labels = new
        centres = np.array([Y[labels == k].mean(0) for k in (0, 1)])
    return labels


def describe(a: Audit) -> list[Finding]:
    """What the robotics checks read into the report's `data.robotics` (no finding)."""
    p = a.train
    a.tables["robotics"] = {"actions": [d[2] for d in _action_dims(a, p)], "obs": [d[2] for d in _obs_dims(a, p)][:64],
                            "series_judged": whole(p),
                            "schedule": None if a.schedule is None else read_schedule(a.schedule).source}
    return []


CHECKS = [describe, action_lag, bin_coverage, binary_actions, noise_schedule, bimodal]
