"""Development cases of the data benchmark: planted faults and their healthy look-alikes. Each case's expected
code was written before it was run. `case(name, expect, domain)` registers a function returning the
arguments of `audit_data` (train, eval and roles)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from registry import case
from synth import driving_log, reach_demos, table

DRIVE = {"target": "target_x,target_y"}


def _log(seed=1, **kw):
    return driving_log(seed, episodes=40, **kw)


# ── driving ─────────────────────────────────────────────────────────────────────────────────────

@case("drive_centimetres", ["position-units"], "driving", category="units")
def _():
    df = _log()
    df[["x", "y", "target_x", "target_y"]] *= 100
    return {"train": df, **DRIVE}


@case("drive_metres", "healthy", "driving", category="units")
def _():
    return {"train": _log(), **DRIVE}


@case("drive_feet_highway", ["position-units"], "driving", category="units")
def _():
    df = _log(2)
    g = df.groupby("episode")
    for c in ("x", "y"):  # a faster log: highway speeds, then feet
        df[c] = g[c].transform(lambda s: s.iloc[0] + (s - s.iloc[0]) * 2.5)
    df[["x", "y", "target_x", "target_y"]] *= 3.2808
    df[["target_x", "target_y"]] *= 2.5
    return {"train": df, **DRIVE}


@case("drive_degrees", ["heading-units"], "driving", category="units")
def _():
    df = _log(3)
    df["heading"] = np.degrees(df["heading"])
    return {"train": df, **DRIVE}


@case("drive_radians_unwrapped", "healthy", "driving", category="units")
def _():
    df = _log(3)
    df["heading"] = df.groupby("episode")["heading"].transform(lambda h: np.unwrap(h.to_numpy()))
    return {"train": df, **DRIVE}


@case("drive_mixed_frames", ["mixed-frames"], "driving", category="frames")
def _():
    df = pd.concat([driving_log(4, episodes=25), driving_log(5, episodes=25, world=False, first_episode=100)])
    return {"train": df, **DRIVE}


@case("drive_ego_frames", "healthy", "driving", category="frames")
def _():
    return {"train": driving_log(5, episodes=40, world=False), **DRIVE}


@case("drive_merged_unsorted", ["timestamps-disordered"], "driving", category="time")
def _():
    df = _log(6)
    parts = [df[df.index % 2 == 0], df[df.index % 2 == 1]]  # two loggers' rows, concatenated by logger
    return {"train": pd.concat(parts).sort_values("episode", kind="stable"), **DRIVE}


@case("drive_dropped_frames", ["uneven-sampling"], "driving", category="time")
def _():
    df = _log(7)
    return {"train": df[np.random.default_rng(0).random(len(df)) > 0.06], **DRIVE}


@case("drive_jittered_clock", "healthy", "driving", category="time")
def _():
    df = _log(7)
    df["time"] += np.random.default_rng(0).normal(0, 0.002, len(df))
    return {"train": df, **DRIVE}


@case("drive_target_from_past", ["target-lag"], "driving", category="lag")
def _():
    df = _log(8)
    g = df.groupby("episode")
    df["target_x"], df["target_y"] = df["x"] - g["x"].shift(5), df["y"] - g["y"].shift(5)  # the window slid back
    return {"train": df.dropna(), **DRIVE}


@case("drive_id_switch", ["kinematic-infeasible"], "driving", category="kinematics")
def _():
    df = _log(9)
    for e in (3, 11, 20):  # another vehicle's track continues under the same id from mid-episode
        rows = df.index[(df["episode"] == e) & (df.index % 80 >= 40)]
        df.loc[rows, ["x", "y"]] += [12.0, -7.0]
    return {"train": df, **DRIVE}


@case("drive_hard_braking", "healthy", "driving", category="kinematics")
def _():
    df = _log(9)
    t = np.arange(80) * 0.1
    speed = np.maximum(25.0 - 8.0 * np.maximum(t - 2.0, 0), 0)  # an emergency stop at 0.8 g after 2 s
    along = np.concatenate([[0], np.cumsum(speed[:-1] * 0.1)])
    for e in (3, 11, 20):
        rows = df.index[df["episode"] == e]
        df.loc[rows, "x"] = df.loc[rows[0], "x"] + along + np.random.default_rng(e).normal(0, 0.05, 80)
        df.loc[rows, "y"] = df.loc[rows[0], "y"]
        df.loc[rows, "heading"] = 0.0
        df.loc[rows, "target_x"] = np.concatenate([along[5:], np.full(5, along[-1])]) - along
        df.loc[rows, "target_y"] = 0.0
    return {"train": df, **DRIVE}


@case("drive_future_speed", ["future-feature"], "driving", category="leakage")
def _():
    df = _log(10)
    df["speed_next"] = df.groupby("episode")["speed"].shift(-2)
    return {"train": df.dropna(), **DRIVE}


@case("drive_past_speed", "healthy", "driving", category="leakage")
def _():
    df = _log(10)
    df["speed_prev"] = df.groupby("episode")["speed"].shift(1)
    return {"train": df.dropna(), **DRIVE}


@case("drive_split_by_rows", ["split-overlap"], "driving", category="splits")
def _():
    df = _log(11)
    val = df.sample(frac=0.2, random_state=0)
    return {"train": df.drop(val.index), "eval": val, **DRIVE}


@case("drive_split_by_episode", "healthy", "driving", category="splits")
def _():
    df = _log(11)
    return {"train": df[df.episode < 32], "eval": df[df.episode >= 32], **DRIVE}


# ── robotics ────────────────────────────────────────────────────────────────────────────────────

@case("robot_late_actions", ["action-lag"], "robotics", category="lag")
def _():
    return {"train": reach_demos(1, lag=1)}


@case("robot_aligned_actions", "healthy", "robotics", category="lag")
def _():
    return {"train": reach_demos(1)}


@case("robot_heavy_tailed_bins", ["bin-coverage"], "robotics", category="bins")
def _():
    d = reach_demos(2)
    r = np.random.default_rng(2)
    d["action"][:, 1] = 0.05 * r.standard_t(1.2, len(d["action"]))  # mostly still, rare large moves
    return {"train": d}


@case("robot_gaussian_bins", "healthy", "robotics", category="bins")
def _():
    d = reach_demos(2)
    d["action"][:, 1] = np.random.default_rng(2).normal(0, 0.5, len(d["action"]))
    return {"train": d}


@case("robot_schedule_unscaled", ["noise-schedule-mismatch"], "robotics", category="schedule")
def _():
    d = reach_demos(3)
    d["action"][:, :2] *= 4.0  # raw joint velocities, std about 2
    return {"train": d, "schedule": "linear"}


@case("robot_schedule_normalised", "healthy", "robotics", category="schedule")
def _():
    return {"train": reach_demos(3), "schedule": "cosine"}


@case("robot_schedule_short", ["noise-schedule-mismatch"], "robotics", category="schedule")
def _():
    return {"train": reach_demos(4), "schedule": {"betas": np.linspace(1e-4, 0.02, 50).tolist()}}


@case("robot_bimodal", ["bimodal-actions"], "robotics", category="multimodal")
def _():
    return {"train": reach_demos(5, obstacle="random")}


@case("robot_switching_policy", "healthy", "robotics", category="multimodal")
def _():
    return {"train": reach_demos(5, obstacle="by-side")}


@case("robot_joint_outlier", ["data-outliers"], "robotics", category="statistics")
def _():
    d = reach_demos(6)
    wrist = np.random.default_rng(6).uniform(-np.pi, np.pi, len(d["action"]))
    wrist[[100, 2000]] = [50.0, -48.0]  # an unwrapped joint angle among wrapped ones
    d["action"] = np.column_stack([d["action"], wrist])
    return {"train": d}


@case("robot_action_scales", ["target-scale-mismatch"], "robotics", category="statistics")
def _():
    d = reach_demos(7)
    d["action"][:, 1] *= 0.002  # one dimension logged in another unit (km/s among m/s)
    return {"train": d}


@case("robot_episode_leak", ["split-overlap"], "robotics", category="splits")
def _():
    d = reach_demos(8)
    keep = d["episode"] % 5 != 0
    val = {k: v[~keep | (d["episode"] < 8)] for k, v in d.items()}
    return {"train": {k: v[keep] for k, v in d.items()}, "eval": val}


# ── tables ──────────────────────────────────────────────────────────────────────────────────────

@case("table_sentinel", ["sentinel-values"], "generic", category="values")
def _():
    df = table(1)
    df.loc[df.sample(frac=0.03, random_state=1).index, "income"] = -999.0
    return {"train": df}


@case("table_zero_inflated", "healthy", "generic", category="values")
def _():
    df = table(1)
    df["visits"] = np.where(np.random.default_rng(1).random(len(df)) < 0.4, 0.0, df["visits"])
    return {"train": df}


@case("table_missing", ["missing-values"], "generic", category="values")
def _():
    df = table(2)
    df.loc[df.sample(frac=0.02, random_state=2).index, "age"] = np.nan
    return {"train": df}


@case("table_imbalanced", ["class-imbalance"], "generic", category="labels")
def _():
    df = table(3)
    df["label"] = (np.random.default_rng(3).random(len(df)) < 0.03).astype(int)
    return {"train": df}


@case("table_leaky_feature", ["feature-leakage"], "generic", category="leakage")
def _():
    df = table(4)
    df["label_code"] = df["label"] * 10 + np.random.default_rng(4).integers(0, 3, len(df))
    return {"train": df}


@case("table_strong_feature", "healthy", "generic", category="leakage")
def _():
    df = table(4, classes=False)
    df["proxy"] = df["target"] + np.random.default_rng(4).normal(0, 0.5, len(df))
    return {"train": df}


@case("table_shifted_eval", ["train-eval-shift"], "generic", category="splits")
def _():
    val = table(6, n=1000)
    val["income"] *= 2.5  # another currency
    return {"train": table(5), "eval": val}


@case("table_random_split", "healthy", "generic", category="splits")
def _():
    return {"train": table(5), "eval": table(6, n=1000)}


@case("table_duplicated_rows", ["duplicate-rows"], "generic", category="values")
def _():
    df = table(7)
    return {"train": pd.concat([df, df.sample(frac=0.1, random_state=7)])}
