"""Held-out cases of the data benchmark: other shapes, names, rates, units and files than the dev cases.
Never tuned on: written, with their expected codes, before the first run, and scored as they came out."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from registry import case
from synth import driving_log, reach_demos, table

TMP = Path(tempfile.mkdtemp(prefix="traindoctor-data-bench-"))


def _renamed(df: pd.DataFrame) -> pd.DataFrame:
    """Another dataset's names: scene_id, timestamp in microseconds, pos_x/pos_y, yaw, future offsets."""
    out = df.rename(columns={"episode": "scene_id", "time": "timestamp", "x": "pos_x", "y": "pos_y",
                             "heading": "yaw", "target_x": "fut_dx", "target_y": "fut_dy"})
    out["timestamp"] = (out["timestamp"] * 1e6).round()
    return out


ROLES = {"target": "fut_dx,fut_dy"}


def _file(df: pd.DataFrame, name: str) -> str:
    path = TMP / name
    df.to_parquet(path) if name.endswith(".parquet") else df.to_csv(path, index=False)
    return str(path)


def _log20(seed, **kw):  # 20 Hz, 8 s episodes
    return driving_log(seed, episodes=30, steps=160, dt=0.05, horizon=10, **kw)


# ── driving ─────────────────────────────────────────────────────────────────────────────────────

@case("t_drive_millimetres_parquet", ["position-units"], "driving", category="units")
def _():
    df = _renamed(_log20(21))
    df[["pos_x", "pos_y", "fut_dx", "fut_dy"]] *= 1000
    return {"train": _file(df, "mm.parquet"), **ROLES}


@case("t_drive_metres_parquet", "healthy", "driving", category="units")
def _():
    return {"train": _file(_renamed(_log20(21)), "m.parquet"), **ROLES}


@case("t_drive_degrees_0_360", ["heading-units"], "driving", category="units")
def _():
    df = _renamed(_log20(22))
    df["yaw"] = np.degrees(df["yaw"]) % 360
    return {"train": _file(df, "deg.csv"), **ROLES}


@case("t_drive_radians_0_2pi", "healthy", "driving", category="units")
def _():
    df = _renamed(_log20(22))
    df["yaw"] = df["yaw"] % (2 * np.pi)
    return {"train": _file(df, "rad.csv"), **ROLES}


@case("t_drive_eval_in_world_frame", ["mixed-frames"], "driving", category="frames")
def _():
    train = _renamed(_log20(23, world=False))
    val = _renamed(driving_log(24, episodes=10, steps=160, dt=0.05, horizon=10, first_episode=500))
    return {"train": train, "eval": val, **ROLES}


@case("t_drive_both_world_frame", "healthy", "driving", category="frames")
def _():
    train = _renamed(_log20(23))
    val = _renamed(driving_log(24, episodes=10, steps=160, dt=0.05, horizon=10, first_episode=500))
    return {"train": train, "eval": val, **ROLES}


@case("t_drive_repeated_timestamps", ["timestamps-disordered"], "driving", category="time")
def _():
    df = _renamed(_log20(25))
    dup = df.iloc[::25].copy()  # a second sensor's rows under the same scene and timestamp
    dup[["pos_x", "pos_y"]] += 0.3
    return {"train": pd.concat([df, dup]).sort_values(["scene_id", "timestamp"], kind="stable"), **ROLES}


@case("t_drive_mixed_rates", ["uneven-sampling"], "driving", category="time")
def _():
    a = _renamed(_log20(26))
    b = _renamed(driving_log(27, episodes=10, steps=80, dt=0.1, horizon=5, first_episode=900))
    # a second source logged at 10 Hz (the same 0.5 s horizon, 5 steps) among 20 Hz scenes
    return {"train": pd.concat([a, b]), **ROLES}


@case("t_drive_target_is_present", ["target-lag"], "driving", category="lag")
def _():
    df = _renamed(_log20(28))
    g = df.groupby("scene_id")
    df["fut_dx"], df["fut_dy"] = g["pos_x"].diff(), g["pos_y"].diff()  # "the next step" read one row too early
    return {"train": df.dropna(), **ROLES}


@case("t_drive_gps_jumps", ["kinematic-infeasible"], "driving", category="kinematics")
def _():
    df = _renamed(_log20(29))
    r = np.random.default_rng(29)
    rows = r.choice(len(df), 6, replace=False)
    df.loc[df.index[rows], "pos_x"] += r.uniform(15, 30, 6)
    return {"train": df, **ROLES}


@case("t_drive_noisy_gps", "healthy", "driving", category="kinematics")
def _():
    df = _renamed(_log20(29))
    df[["pos_x", "pos_y"]] += np.random.default_rng(29).normal(0, 0.1, (len(df), 2))
    return {"train": df, **ROLES}


@case("t_drive_centred_smoothing", ["future-feature"], "driving", category="leakage")
def _():
    df = _renamed(_log20(30))
    g = df.groupby("scene_id")["speed"]
    df["speed_ahead"] = g.shift(-6)  # a preprocessing step read the speed 0.3 s ahead
    return {"train": df.dropna(), **ROLES}


@case("t_drive_causal_smoothing", "healthy", "driving", category="leakage")
def _():
    df = _renamed(_log20(30))
    df["speed_avg"] = df.groupby("scene_id")["speed"].transform(lambda s: s.rolling(6, min_periods=1).mean())
    return {"train": df, **ROLES}


# ── robotics ────────────────────────────────────────────────────────────────────────────────────

def _demos_table(d: dict) -> pd.DataFrame:
    """A flat table: one column per observation and action dimension."""
    out = pd.DataFrame({"episode_id": d["episode"], "t": d["time"]})
    for i in range(d["obs"].shape[1]):
        out[f"state_{i}"] = d["obs"][:, i]
    for i in range(d["action"].shape[1]):
        out[f"act_{i}"] = d["action"][:, i]
    return out


ACTS = {"action": "act_0,act_1,act_2", "obs": "state_0,state_1,state_2,state_3", "time": "t"}


@case("t_robot_two_steps_late", ["action-lag"], "robotics", category="lag")
def _():
    return {"train": _demos_table(reach_demos(31, episodes=60, lag=2)), **ACTS}


@case("t_robot_in_step", "healthy", "robotics", category="lag")
def _():
    return {"train": _demos_table(reach_demos(31, episodes=60)), **ACTS}


@case("t_robot_tokens_few_used", ["bin-coverage"], "robotics", category="bins")
def _():
    d = reach_demos(32)
    r = np.random.default_rng(32)
    raw = 0.02 * r.laplace(size=len(d["action"])) * np.where(r.random(len(d["action"])) < 0.02, 40, 1)
    d["action"][:, 0] = np.clip(np.round((raw - raw.min()) / (raw.max() - raw.min()) * 255), 0, 255)
    return {"train": d}


@case("t_robot_tokens_percentile", "healthy", "robotics", category="bins")
def _():
    d = reach_demos(32)
    r = np.random.default_rng(32)
    raw = 0.02 * r.laplace(size=len(d["action"])) * np.where(r.random(len(d["action"])) < 0.02, 40, 1)
    edges = np.quantile(raw, np.linspace(0, 1, 257)[1:-1])
    d["action"][:, 0] = np.searchsorted(edges, raw).astype(float)
    return {"train": d}


@case("t_robot_flow_x_prediction", ["noise-schedule-mismatch"], "robotics", category="schedule")
def _():
    return {"train": reach_demos(33), "schedule": {"kind": "flow", "t_min": 0.0, "prediction": "x"}}


@case("t_robot_flow_clamped", "healthy", "robotics", category="schedule")
def _():
    return {"train": reach_demos(33), "schedule": {"kind": "flow", "t_min": 1e-3, "prediction": "x"}}


@case("t_robot_terminal_snr_file", ["noise-schedule-mismatch"], "robotics", category="schedule")
def _():
    path = TMP / "alphas.npy"
    np.save(path, np.linspace(1e-4, 0.005, 200))  # betas too small: alpha_bar ends at 0.6
    return {"train": reach_demos(34), "schedule": str(path)}


@case("t_robot_two_goals", ["bimodal-actions"], "robotics", category="multimodal")
def _():
    d = reach_demos(35, obstacle="random", episodes=120)
    return {"train": _demos_table(d), **ACTS}


@case("t_robot_goal_decides", "healthy", "robotics", category="multimodal")
def _():
    d = reach_demos(35, obstacle="by-side", episodes=120)
    return {"train": _demos_table(d), **ACTS}


@case("t_robot_scale_200x", ["target-scale-mismatch"], "robotics", category="statistics")
def _():
    d = _demos_table(reach_demos(36))
    d["act_0"] *= 300.0  # one dimension logged in another unit
    return {"train": d, **ACTS}


# ── tables ──────────────────────────────────────────────────────────────────────────────────────

@case("t_table_padding_zeros", ["sentinel-values"], "generic", category="values")
def _():
    df = table(41, classes=False)
    df["age"] = np.where(np.random.default_rng(41).random(len(df)) < 0.05, 0.0, df["age"])  # 0 for "unknown"
    return {"train": _file(df, "pad.csv")}


@case("t_table_text_in_numbers", ["missing-values"], "generic", category="values")
def _():
    df = table(42).astype({"age": object})
    df.loc[df.sample(frac=0.01, random_state=42).index, "age"] = "?"
    return {"train": _file(df, "text.csv")}


@case("t_table_rare_majority", ["class-imbalance"], "generic", category="labels")
def _():
    df = table(43)
    df["label"] = np.where(np.random.default_rng(43).random(len(df)) < 0.95, "lane_follow", df["label"].astype(str))
    return {"train": df}


@case("t_table_id_encodes_label", ["feature-leakage"], "generic", category="leakage")
def _():
    df = table(44)
    df["file_name"] = [f"{'pos' if v else 'neg'}_{i}.png" for i, v in enumerate(df["label"] > 0)]
    df["label"] = (df["label"] > 0).astype(int)
    return {"train": df}


@case("t_table_new_site_eval", ["train-eval-shift"], "generic", category="splits")
def _():
    val = table(46, n=1500)
    val["score"] += 1.0
    return {"train": table(45), "eval": val}


@case("t_table_same_site_eval", "healthy", "generic", category="splits")
def _():
    return {"train": table(45), "eval": table(46, n=1500)}


@case("t_table_patient_overlap", ["split-overlap"], "generic", category="splits")
def _():
    df = table(47)
    df["patient_id"] = np.random.default_rng(47).integers(0, 400, len(df))
    return {"train": df.iloc[:3000], "eval": df.iloc[3000:]}
