"""The driving checks (`--domain driving`): rows are time steps of episodes (an agent's log, a scene),
with a position (x, y), optionally a heading, a time and an episode column. Everything is judged from
physics — what a road vehicle can do — never from a column's name: the units of positions from the
speeds and accelerations they imply, the heading's units from how it turns with the direction of
motion, lags from the cross-correlation of velocities.

Columns: `position` (two columns, or one vector column) and `heading` as named by the caller, else found
by name (x/y, pos_x/pos_y, position, yaw, heading...). Numbers in judge/thresholds.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..judge.thresholds import (
    DRIVE_ACCEL_MAX, DRIVE_JERK_MAX, DRIVE_SPEED_MAX, DRIVE_WINDOW, FRAME_MIXED, FRAME_ORIGIN, FUTURE_CORR,
    FUTURE_LEAD, HEADING_MOVING, HEADING_TURNING, LAG_MAX, LANE_WIDTH, LAG_MIN_CORR, STEP_TOLERANCE, TARGET_AHEAD,
    TIME_DISORDER_SHARE, UNEVEN_SHARE,
)
from ..vocabulary.finding import Finding, finding
from ..vocabulary.numbers import fmt
from .audit import Audit
from ..measure.profile import Profile
from ..measure.streaming import STRETCH_ID
from .series import (
    column, cross_correlation, episodes, in_time_order, key, peak, refined, step_seconds, times, whole,
)

SOURCE = "data"
UNITS = (("ft", 0.3048), ("cm", 0.01), ("mm", 0.001))  # tried in this order: the smallest rescaling that fits
POSITION_PAIRS = (("x", "y"), ("posx", "posy"), ("positionx", "positiony"), ("egox", "egoy"), ("centerx", "centery"),
                  ("xpos", "ypos"), ("worldx", "worldy"), ("globalx", "globaly"))
POSITION_VECTORS = {"position", "positions", "pos", "xy", "center", "egoposition", "location"}
TURN_WINDOW = 0.05  # radians of course change over a window: a turn, not noise on a straight line
HEADING_NAMES = {"heading", "yaw", "theta", "psi", "egoyaw", "egoheading", "headingangle", "yawangle"}


@dataclass
class Track:
    """One split's motion: per episode (time order) the positions (n, 2), times in seconds, heading."""

    eps: list[np.ndarray]
    pos: np.ndarray
    t: np.ndarray | None
    step: float | None  # seconds
    heading: np.ndarray | None
    names: list[str]


def _position(a: Audit, p: Profile) -> tuple[np.ndarray, list[str]] | None:
    special = set(a.roles.target)
    named = a.roles.named.get("position")
    cols = {key(c): c for c, lay in p.layouts.items() if lay.kind == "number" and c not in special}
    if named:
        if len(named) >= 2:
            return np.column_stack([column(a, p, c)[:, 0] for c in named[:2]]), named[:2]
        values = column(a, p, named[0])
        return (values[:, :2], [f"{named[0]}[0]", f"{named[0]}[1]"]) if values.shape[1] >= 2 else None
    for kx, ky in POSITION_PAIRS:
        if kx in cols and ky in cols:
            return np.column_stack([column(a, p, cols[kx])[:, 0], column(a, p, cols[ky])[:, 0]]), [cols[kx], cols[ky]]
    for k, c in cols.items():
        if k in POSITION_VECTORS and len(p.layouts[c].dims) >= 2 and not p.layouts[c].pooled:
            return column(a, p, c)[:, :2], p.layouts[c].dims[:2]
    return None


def _heading_column(a: Audit, p: Profile) -> str | None:
    named = a.roles.named.get("heading")
    if named:
        return named[0]
    return next((c for c, lay in p.layouts.items() if lay.kind == "number" and key(c) in HEADING_NAMES
                 and len(lay.dims) == 1 and c not in a.roles.target), None)


def track(a: Audit, p: Profile) -> Track | None:
    if not whole(p):
        return None  # a sparse sample of a long log: neighbouring sampled rows are not neighbouring steps
    found = _position(a, p)
    if found is None:
        return None
    eps = [e for e in in_time_order(a, p) if len(e) >= 3]
    period = step_seconds(a, p, eps)
    t = times(a, p)
    step = None
    if period is not None and t is not None:
        step, unit = period
        t = t * {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}[unit]
    h = _heading_column(a, p)
    heading = column(a, p, h)[:, 0] if h else None
    return Track(eps, found[0], t, step, heading, found[1] + ([h] if h else []))


# ── derivatives over windows ────────────────────────────────────────────────────────────────────

def _window(tr: Track) -> int:
    return max(1, int(round(DRIVE_WINDOW / tr.step)))


def _derivative(values: np.ndarray, t: np.ndarray, w: int) -> tuple[np.ndarray, np.ndarray]:
    """(dv/dt over steps w apart, at the mid times)."""
    dt = t[w:] - t[:-w]
    with np.errstate(invalid="ignore", divide="ignore"):
        d = (values[w:] - values[:-w]) / (dt[:, None] if values.ndim == 2 else dt)
    d[~(dt > 0)] = np.nan
    return d, (t[w:] + t[:-w]) / 2


def kinematics(tr: Track) -> dict[str, list[np.ndarray]]:
    """Per episode: speed, |acceleration| and |jerk| (vectors, so cornering counts), in position units per second."""
    w = _window(tr)
    out: dict[str, list[np.ndarray]] = {"speed": [], "accel": [], "jerk": []}
    for e in tr.eps:
        if len(e) <= 3 * w:
            continue
        v, tv = _derivative(tr.pos[e], tr.t[e], w)
        acc, ta = _derivative(v, tv, w)
        jerk, _ = _derivative(acc, ta, w)
        out["speed"].append(np.linalg.norm(v, axis=1))
        out["accel"].append(np.linalg.norm(acc, axis=1))
        out["jerk"].append(np.linalg.norm(jerk, axis=1))
    return out


def _pooled(parts: list[np.ndarray]) -> np.ndarray:
    values = np.concatenate(parts) if parts else np.empty(0)
    return values[np.isfinite(values)]


def _motion(a: Audit) -> tuple[Track, dict[str, np.ndarray], dict[str, float]] | None:
    tr = track(a, a.train)
    if tr is None or tr.step is None:
        return None
    per_episode = kinematics(tr)
    kin = {k: _pooled(v) for k, v in per_episode.items()}
    if len(kin["speed"]) < 50 or len(kin["accel"]) < 50:
        return None
    # units are a source's, glitches an episode's: the typical episode's 95th percentiles
    typical = {k: float(np.median([np.quantile(v[np.isfinite(v)], 0.95) for v in per_episode[k]
                                   if np.isfinite(v).sum() >= 5])) for k in ("speed", "accel")}
    return tr, kin, typical


def _plausible(typical: dict[str, float], factor: float) -> bool:
    return typical["speed"] * factor <= DRIVE_SPEED_MAX and typical["accel"] * factor <= DRIVE_ACCEL_MAX


# ── the checks ──────────────────────────────────────────────────────────────────────────────────

def position_units(a: Audit) -> list[Finding]:
    motion = _motion(a)
    if motion is None or _plausible(motion[2], 1.0):
        return []
    tr, _, typical = motion
    unit = next(((u, f) for u, f in UNITS if _plausible(typical, f)), None)
    read = (f"read in {unit[0]} they give {fmt(typical['speed'] * unit[1])} m/s and "
            f"{fmt(typical['accel'] * unit[1])} m/s², a car's" if unit else "no unit (ft, cm, mm) makes them a car's; "
            "check the timestamps' unit too")
    return [finding("position-units", f"read as metres, the positions `{'`, `'.join(tr.names[:2])}` of "
                    f"{a.train.name} move at {fmt(typical['speed'])} m/s and accelerate at "
                    f"{fmt(typical['accel'])} m/s² "
                    f"(95th percentiles of the median episode), beyond a road vehicle ({DRIVE_SPEED_MAX:g} m/s, "
                    f"{DRIVE_ACCEL_MAX:g} m/s²); {read}", SOURCE,
                    evidence={"speed_p95": typical["speed"], "accel_p95": typical["accel"], "step_s": tr.step,
                              "likely_unit": unit[0] if unit else None, "factor": unit[1] if unit else None},
                    location={"split": a.train.name, "columns": tr.names[:2]})]


def lane_widths(a: Audit) -> list[Finding]:
    """A lane-width column (a name holding "lane width") in the unit of the positions, read as metres: the
    median lane is a road's (LANE_WIDTH) or a rescaling (ft, cm, mm) names the unit it is in."""
    out = []
    for column, lay in a.train.layouts.items():
        if lay.kind != "number" or lay.pooled or "lanewidth" not in key(column):
            continue
        values = a.train.sampled(column)
        values = values[np.isfinite(values) & (values > 0)]
        if len(values) < 20:
            continue
        median = float(np.median(values))
        if LANE_WIDTH[0] <= median <= LANE_WIDTH[1]:
            continue
        unit = next(((u, f) for u, f in UNITS if LANE_WIDTH[0] <= median * f <= LANE_WIDTH[1]), None)
        read = (f"in {unit[0]} it is {fmt(median * unit[1])} m, a road's" if unit else
                "no unit (ft, cm, mm) makes it a road's")
        out.append(finding("position-units", f"read as metres, the lanes of {a.train.name} are {fmt(median)} m wide "
                           f"(median of `{column}`), where road lanes are {LANE_WIDTH[0]:g}-{LANE_WIDTH[1]:g} m; "
                           f"{read}", SOURCE, evidence={"column": column, "lane_width_median": median,
                                                         "likely_unit": unit[0] if unit else None,
                                                         "factor": unit[1] if unit else None, "by": "lane width"},
                           location={"split": a.train.name, "columns": [column]}))
    return out


def kinematic_feasibility(a: Audit) -> list[Finding]:
    motion = _motion(a)
    if motion is None or not _plausible(motion[2], 1.0):
        return []  # implausible units are named by position_units; every step would be "infeasible"
    tr, kin, _ = motion
    limits = {"speed": DRIVE_SPEED_MAX, "accel": DRIVE_ACCEL_MAX, "jerk": DRIVE_JERK_MAX}
    over = {k: int((kin[k] > limits[k]).sum()) for k in limits}
    if not any(over.values()):
        return []
    worst = {k: float(kin[k].max()) for k in limits if over[k]}
    units = {"speed": "m/s", "accel": "m/s²", "jerk": "m/s³"}
    return [finding("kinematic-infeasible", f"{sum(over.values())} windowed step(s) of {a.train.name} move beyond what "
                    "a road vehicle can: " + "; ".join(f"{k} past {fmt(limits[k])} {units[k]} on {over[k]} step(s), up "
                                                       f"to {fmt(worst[k])}" for k in limits if over[k])
                    + f" (derivatives over {DRIVE_WINDOW:g} s)", SOURCE,
                    evidence={"over": over, "worst": worst, "steps": len(kin["speed"]), "limits": limits},
                    location={"split": a.train.name, "columns": tr.names[:2]})]


def heading_units(a: Audit) -> list[Finding]:
    tr = track(a, a.train)
    if tr is None or tr.heading is None:
        return []
    h = tr.heading[np.isfinite(tr.heading)]
    if len(h) < 20 or np.abs(h).max() > 360 * 1.01:
        return []
    slope = _heading_slope(tr)
    wraps = _wraps(tr)
    if slope is not None:
        degrees = 20 <= slope <= 120
        how = (f"it turns {slope:.1f} units per radian of turn of the direction of motion (1 in radians, 57.3 in "
               "degrees)")
    else:
        degrees = np.abs(h).max() > 2 * np.pi * 1.05 and wraps["360"] >= wraps["2pi"]
        how = f"its values reach {fmt(float(np.abs(h).max()))}, beyond ±2π"
    if not degrees:
        return []
    return [finding("heading-units", f"the heading `{tr.names[-1]}` of {a.train.name} is in degrees: {how}"
                    + (f"; it jumps by about 360 on {wraps['360']} step(s)" if wraps["360"] else ""), SOURCE,
                    evidence={"slope": slope, "max_abs": float(np.abs(h).max()), "jumps_360": wraps["360"]},
                    location={"split": a.train.name, "columns": [tr.names[-1]]})]


def _heading_slope(tr: Track) -> float | None:
    """The heading's change per radian of change of the course (the direction of motion over a window, so
    position noise does not turn it): the median ratio over windows of moving, turning vehicles (a wrap of the
    heading is one outlier among them); None without enough turning."""
    w = _window(tr) if tr.step else 1
    dh, dc = [], []
    for e in tr.eps:
        pos, h = tr.pos[e], tr.heading[e]
        if len(e) <= 2 * w:
            continue
        d = pos[w:] - pos[:-w]
        moving = np.linalg.norm(d, axis=1) > HEADING_MOVING * w * (tr.step or 0.0)
        course = np.arctan2(d[:, 1], d[:, 0])
        mid = h[w // 2:w // 2 + len(course)]  # the heading in the middle of each window
        both = moving[w:] & moving[:-w]
        dc.append(_wrap(course[w:] - course[:-w])[both])
        dh.append((mid[w:] - mid[:-w])[both])
    x, y = np.concatenate(dc or [np.empty(0)]), np.concatenate(dh or [np.empty(0)])
    turning = np.isfinite(x) & np.isfinite(y) & (np.abs(x) >= TURN_WINDOW)
    if np.abs(x[turning]).sum() < HEADING_TURNING or turning.sum() < 20:
        return None
    return float(np.median(y[turning] / x[turning]))


def _wrap(angle: np.ndarray) -> np.ndarray:
    return (angle + np.pi) % (2 * np.pi) - np.pi


def _wraps(tr: Track) -> dict[str, int]:
    steps = np.concatenate([np.abs(np.diff(tr.heading[e])) for e in tr.eps] or [np.empty(0)])
    return {"360": int(((steps > 300) & (steps < 420)).sum()), "2pi": int(((steps > 5) & (steps < 7.5)).sum())}


def frames(a: Audit) -> list[Finding]:
    kinds: dict[str, dict[str, int]] = {}
    for p in [a.train, *a.evals]:
        tr = track(a, p)
        if tr is None or len(tr.eps) < 2:
            continue
        counts = {"ego": 0, "world": 0}
        for e in tr.eps:
            pos = tr.pos[e]
            pos = pos[np.isfinite(pos).all(1)]
            if len(pos) < 2:
                continue
            extent = float(np.linalg.norm(pos.max(0) - pos.min(0)))
            counts["ego" if np.linalg.norm(pos[0]) <= max(FRAME_ORIGIN, 0.01 * extent) else "world"] += 1
        kinds[p.name] = counts
    total = {k: sum(c[k] for c in kinds.values()) for k in ("ego", "world")}
    n = sum(total.values())
    if not n or min(total.values()) < max(2, FRAME_MIXED * n):
        return []
    per_split = "; ".join(f"{s}: {c['ego']} start at the origin, {c['world']} far from it" for s, c in kinds.items())
    return [finding("mixed-frames", f"episodes come in two frames: {total['ego']} of {n} start at the origin (an ego "
                    f"frame) and {total['world']} far from it (a world frame) — {per_split}", SOURCE,
                    evidence={"episodes": kinds}, location={"split": a.train.name})]


def timestamps(a: Audit) -> list[Finding]:
    out = []
    for p in [a.train, *a.evals]:
        t = times(a, p)
        if t is None or not whole(p):
            continue
        eps = [e for e in episodes(a, p) if len(e) >= 3]
        steps = [np.diff(t[e]) for e in eps]  # in file order
        back = sum(int((s < 0).sum()) for s in steps)
        same = sum(int((s == 0).sum()) for s in steps)
        n = sum(len(s) for s in steps)
        if n and back + same >= max(1, TIME_DISORDER_SHARE * n) and back <= n / 4:
            out.append(finding("timestamps-disordered", f"{p.name}: within episodes, time goes back on {back} and "
                               f"repeats on {same} of {n} steps (rows in file order)", SOURCE,
                               evidence={"split": p.name, "back": back, "repeated": same, "steps": n},
                               location={"split": p.name, "columns": [a.roles.time]}))
        out += _uneven(a, p, t, eps)
    return out


def _uneven(a: Audit, p: Profile, t: np.ndarray, eps: list[np.ndarray]) -> list[Finding]:
    sorted_steps = [np.diff(np.sort(t[e])) for e in eps]
    sorted_steps = [s[s > 0] for s in sorted_steps if (s > 0).sum() >= 2]
    if not sorted_steps:
        return []
    medians = np.array([np.median(s) for s in sorted_steps])
    nominal = float(np.median(medians))
    off = sum(int((np.abs(s - m) > STEP_TOLERANCE * m).sum()) for s, m in zip(sorted_steps, medians))
    n = sum(len(s) for s in sorted_steps)
    rates = int((np.abs(medians - nominal) > STEP_TOLERANCE * nominal).sum())
    if off < UNEVEN_SHARE * n and rates < max(1, FRAME_MIXED * len(medians)):
        return []
    parts = []
    if off >= UNEVEN_SHARE * n:
        parts.append(f"{off} of {n} steps ({off / n:.1%}) are {STEP_TOLERANCE:.0%} or more off their episode's step")
    if rates:
        parts.append(f"{rates} of {len(medians)} episodes are logged at another rate (step "
                     f"{fmt(float(medians.min()))} to "
                     f"{fmt(float(medians.max()))})")
    return [finding("uneven-sampling", f"{p.name}: the time steps (nominal {fmt(nominal)}) are uneven: "
                    + "; ".join(parts), SOURCE,
                    evidence={"split": p.name, "nominal": nominal, "off": off, "steps": n, "other_rate": rates},
                    location={"split": p.name, "columns": [a.roles.time]})]


def _state_changes(tr: Track, w: int, accelerations: bool = False) -> dict[str, list[np.ndarray]]:
    """Per episode, the changes of the state over w steps (index t: from t to t + w): x, y, the speed
    (central differences over the window, so it is the speed at the step, as a logged speed is) and the
    heading; and with `accelerations`, the changes of the x and y velocities around each step."""
    out: dict[str, list[np.ndarray]] = {"x": [], "y": [], "speed": []}
    if accelerations:
        out.update({"accel x": [], "accel y": []})
    if tr.heading is not None:
        out["heading"] = []
    for e in tr.eps:
        pos = tr.pos[e]
        t = tr.t[e] if tr.t is not None else None
        out["x"].append(_changes(pos[:, 0], w, t))
        out["y"].append(_changes(pos[:, 1], w, t))
        if accelerations:  # centred: the velocity over [t - w, t) to the velocity over [t, t + w)
            for k in (0, 1):
                out[f"accel {'xy'[k]}"].append(np.roll(_changes(out["xy"[k]][-1], w, t), w))
        speed = np.full(len(e), np.nan)
        if len(e) > 2 * w:
            speed[w:-w] = np.linalg.norm(pos[2 * w:] - pos[:-2 * w], axis=1)
        out["speed"].append(_changes(speed, w, t))
        if tr.heading is not None:
            out["heading"].append(_changes(np.unwrap(tr.heading[e]), w, t))
    return out


def _changes(values: np.ndarray, w: int, t: np.ndarray | None) -> np.ndarray:
    """Changes over w steps, per second when the times are known (a dropped frame doubles a change, not a
    velocity)."""
    out = np.full(len(values), np.nan)
    if len(values) > w:
        out[:len(values) - w] = values[w:] - values[:-w]
        if t is not None:
            with np.errstate(invalid="ignore", divide="ignore"):
                out[:len(values) - w] /= np.where(t[w:] > t[:-w], t[w:] - t[:-w], np.nan)
    return out


def _lags(tr: Track, values: np.ndarray, state: dict[str, list[np.ndarray]], w: int) -> dict | None:
    """The state signal a column's changes (over w steps, per second) follow best, by how many steps the
    column leads it (the centre of the correlation's peak), and how well. An absolute target moves with
    the velocity: its lead is its horizon h. An offset from the present position (p[t+h] - p[t]) changes
    with the accelerations over its window, so it is compared with those; its lead is its window's centre,
    h/2 (a past offset p[t] - p[t-h]: -h/2). That tells the future from the past where velocities cannot:
    at a steady speed past and future offsets are equal."""
    changes = [_changes(values[e], w, None if tr.t is None else tr.t[e]) for e in tr.eps]
    best = None
    for name, series in state.items():
        corr = cross_correlation(series, changes, LAG_MAX)
        found = peak(corr, LAG_MAX)
        if found and (best is None or found[1] > best["corr"]):  # corr(state_t, col_{t+k}) peaks at k = -lead
            offset = name.startswith("accel")
            # a change over [t, t + w) is centred w/2 after an acceleration centred at t
            lead = -refined(corr, LAG_MAX) - (w / 2 if offset else 0.0)
            best = {"follows": name, "form": "offset" if offset else "absolute", "lead": lead, "corr": found[1],
                    "curve": _curve(corr)}
    return best


def _curve(corr: np.ndarray) -> dict:
    """A cross-correlation for the report's figure: corr(state_t, column_{t+k}) per lag k."""
    return {"lags": list(range(-LAG_MAX, LAG_MAX + 1)), "corr": [float(c) if np.isfinite(c) else None for c in corr]}


def target_lag(a: Audit) -> list[Finding]:
    rows = []
    for p in [a.train, *a.evals]:
        tr = track(a, p)
        if tr is None:
            continue
        w = _window(tr) if tr.step else 1
        state = _state_changes(tr, w, accelerations=True)
        for c, i, name in a.targets(p):
            if p.layouts[c].pooled or c in tr.names:
                continue
            found = _lags(tr, column(a, p, c)[:, i], state, w)
            if found is None:
                continue
            curves = a.tables.setdefault("driving_lags", {})
            curves.setdefault(p.name, {})[name] = {"follows": found["follows"], **found.pop("curve")}
            if found["corr"] >= LAG_MIN_CORR:
                rows.append({"split": p.name, "target": name, **found})
    if not rows:
        return []
    behind = [r for r in rows if r["lead"] < TARGET_AHEAD]
    by_target: dict[str, list[float]] = {}
    for r in rows:
        by_target.setdefault(r["target"], []).append(r["lead"])
    # one target leading by different steps in different splits (a step of horizon moves an offset's lead by 1/2)
    differ = any(max(v) - min(v) >= TARGET_AHEAD for v in by_target.values())
    if not behind and not differ:
        return []
    form = {"offset": "an offset from the position", "absolute": "absolute"}
    text = "; ".join(f"`{r['target']}` of {r['split']} ({form[r['form']]}) "
                     f"follows the {r['follows'].replace('accel', 'acceleration in')} "
                     + (f"{-r['lead']:.1f} step(s) behind" if r["lead"] <= -TARGET_AHEAD else "at the same step"
                        if r["lead"] < TARGET_AHEAD else f"{r['lead']:.1f} step(s) ahead")
                     + f" (correlation {r['corr']:.2f})" for r in rows[:6])
    what = ("the target is not in the future of the history it is predicted from" if behind
            else "the target's horizon differs between splits")
    return [finding("target-lag", f"{what}: {text}", SOURCE, evidence={"targets": rows},
                    location={"split": a.train.name, "columns": sorted({r["target"] for r in rows})})]


def future_features(a: Audit) -> list[Finding]:
    tr = track(a, a.train)
    if tr is None:
        return []
    w = _window(tr) if tr.step else 1
    state = _state_changes(tr, w)  # over a window: a logged feature is not a copy of the noisy positions
    rows = []
    for c, i, name in a.features():
        if c in tr.names or name in tr.names or a.train.layouts[c].pooled:
            continue
        values = column(a, a.train, c)[:, i]
        changes = [_changes(values[e], w, None if tr.t is None else tr.t[e]) for e in tr.eps]
        for signal, series in state.items():
            corr = cross_correlation(series, changes, LAG_MAX)
            found = peak(corr, LAG_MAX)
            if not found:
                continue
            lead, r = -refined(corr, LAG_MAX), found[1]
            if lead >= FUTURE_LEAD and r >= FUTURE_CORR:
                rows.append({"feature": name, "signal": signal, "lead": lead, "corr": r})
                break
    if not rows:
        return []
    return [finding("future-feature", f"{len(rows)} input feature(s) of {a.train.name} move with the vehicle's state "
                    "some steps ahead, information that will not exist at inference: "
                    + "; ".join(f"`{r['feature']}` follows the {r['signal']} {r['lead']:.1f} step(s) ahead "
                                f"(correlation of changes {r['corr']:.2f})" for r in rows[:5]), SOURCE, evidence={"features": rows},
                    location={"split": a.train.name, "columns": [r["feature"] for r in rows]})]


def describe(a: Audit) -> list[Finding]:
    """What the driving checks read, per split, into the report's `data.driving` (no finding): the columns,
    the time step, and why a split was not judged."""
    out = {}
    for p in [a.train, *a.evals]:
        if not whole(p):
            out[p.name] = {"judged": False, "why": f"{p.rows} rows, more than the row sample holds: the series "
                                                   "checks need neighbouring steps"}
            continue
        tr = track(a, p)
        if tr is None:
            out[p.name] = {"judged": False, "why": "no position columns (name them with --position)"}
            continue
        period = step_seconds(a, p, tr.eps)
        stretches = p.sample.rows.get(STRETCH_ID)
        out[p.name] = {"judged": True, "position": tr.names[:2], "heading": tr.names[2] if len(tr.names) > 2 else None,
                       "episodes": len(tr.eps), "step_s": tr.step, "time_unit": period[1] if period else None,
                       "rows_read": len(tr.pos),
                       "stretches": None if stretches is None else int(len(np.unique(stretches))),
                       "paths": _paths(tr)}
    motion = _motion(a)
    if motion is not None and a.train.name in out:
        out[a.train.name]["typical"] = motion[2]
    a.tables["driving"] = out
    return []


PATHS, PATH_POINTS = 8, 200  # episodes drawn in the report's trajectory figure, points each


def _paths(tr: Track) -> list[dict]:
    """The longest episodes' positions, thinned to PATH_POINTS, for the report's trajectory figure."""
    longest = sorted(tr.eps, key=len, reverse=True)[:PATHS]
    out = []
    for e in longest:
        e = e[:: max(1, len(e) // PATH_POINTS)]
        out.append({"x": [float(v) for v in tr.pos[e, 0]], "y": [float(v) for v in tr.pos[e, 1]]})
    return out


CHECKS = [describe, position_units, lane_widths, kinematic_feasibility, heading_units, frames, timestamps, target_lag,
          future_features]
