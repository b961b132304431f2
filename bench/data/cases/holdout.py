"""A second held-out set of the data benchmark, written from the issue's list of data faults (not from the
checks' code) with every expected code decided before the first run, and scored as it came out. Shapes not
used by dev or test: other seeds and sizes, a categorical site column, an autoregressive sensor table, a
lane-width column, 10 Hz logs with dropped frames, action vectors of 4 dimensions."""

from __future__ import annotations

import numpy as np
import pandas as pd

from registry import case
from synth import driving_log, reach_demos, table

DRIVE = {"target": "target_x,target_y"}


def _series_table(seed: int, n: int = 3000) -> pd.DataFrame:
    """Sensor readings along time: an autoregressive target (the load of a machine) and three noisy
    present-time sensors that each explain part of it."""
    r = np.random.default_rng(seed)
    load = np.zeros(n)
    for i in range(1, n):
        load[i] = 0.9 * load[i - 1] + r.normal(0, 1)
    return pd.DataFrame({"time": np.arange(n, dtype=float), "temp": 0.5 * load + r.normal(0, 1.5, n),
                         "vibration": r.normal(0, 1, n) + 0.3 * load, "current": r.gamma(2, 1, n),
                         "target": load})


def _sites(seed: int, n: int, shares) -> pd.DataFrame:
    """A table with a categorical site column drawn with the given shares of sites A-D."""
    df = table(seed, n=n)
    df["site"] = np.random.default_rng(seed + 1).choice(list("ABCD"), n, p=shares)
    return df


# ── generic ─────────────────────────────────────────────────────────────────────────────────────

@case("h_table_near_duplicates", ["near-duplicates", "duplicate-rows"], "generic", category="duplicates")
def _():
    df = table(101, n=5000, classes=False)
    r = np.random.default_rng(101)
    copies = df.sample(frac=0.06, random_state=101).copy()  # re-exported rows: float rounding differs
    num = ["income", "score", "ratio"]
    copies[num] = copies[num] * (1 + r.normal(0, 1e-7, (len(copies), 3)))
    return {"train": pd.concat([df, copies], ignore_index=True)}


@case("h_table_near_copy_in_eval", ["split-overlap"], "generic", category="duplicates")
def _():
    df = table(102, n=5000)
    val = df.iloc[:800].copy()  # validation taken from training, stored as float32
    for c in ("income", "score", "ratio"):
        val[c] = val[c].astype(np.float32).astype(float)
    return {"train": df, "eval": pd.concat([val, table(103, n=800)], ignore_index=True)}


@case("h_table_coarse_values", "healthy", "generic", category="duplicates")
def _():
    r = np.random.default_rng(104)  # few distinct values per column: many rows agree by chance
    n = 4000
    df = pd.DataFrame({"rooms": r.integers(1, 6, n).astype(float), "floor": r.integers(0, 10, n).astype(float),
                       "age": (r.normal(30, 10, n) / 5).round() * 5, "score": r.normal(0, 1, n).round(1)})
    df["target"] = df["rooms"] * 0.5 + 0.1 * df["age"] + r.normal(0, 1, n)
    return {"train": df}


@case("h_table_site_mix_shift", ["train-eval-shift"], "generic", category="shift")
def _():
    return {"train": _sites(105, 4000, [0.4, 0.3, 0.2, 0.1]), "eval": _sites(106, 1500, [0.1, 0.2, 0.3, 0.4])}


@case("h_table_site_mix_same", "healthy", "generic", category="shift")
def _():
    return {"train": _sites(105, 4000, [0.4, 0.3, 0.2, 0.1]), "eval": _sites(106, 1500, [0.4, 0.3, 0.2, 0.1])}


@case("h_table_minus_one_code", ["sentinel-values"], "generic", category="values")
def _():
    df = table(107, classes=False)
    df["income"] = np.where(np.random.default_rng(107).random(len(df)) < 0.03, -1.0, df["income"])
    return {"train": df}


@case("h_table_glitch_outliers", ["data-outliers"], "generic", category="values")
def _():
    df = table(108, n=6000, classes=False)
    df.loc[[17, 2500, 4100], "ratio"] = [48.0, -51.0, 60.0]  # a beta(2, 5) ratio read from a corrupt record
    return {"train": df}


@case("h_sensor_knows_next_load", ["future-feature", "feature-leakage"], "generic", category="leakage")
def _():
    df = _series_table(109)
    r = np.random.default_rng(109)
    df["load_forecast"] = df["target"].shift(-4) + r.normal(0, 1.0, len(df))  # built from the load 4 steps on
    return {"train": df.dropna(), "time": "time"}


@case("h_sensor_lagged_load", "healthy", "generic", category="leakage")
def _():
    df = _series_table(109)
    r = np.random.default_rng(109)
    df["load_reported"] = df["target"].shift(4) + r.normal(0, 1.0, len(df))  # the load as reported 4 steps late
    return {"train": df.dropna(), "time": "time"}


@case("h_sensor_random_split", ["shuffled-time-split"], "generic", category="splits")
def _():
    df = _series_table(110).sample(frac=1.0, random_state=110)
    return {"train": df.iloc[:2400], "eval": df.iloc[2400:], "time": "time"}


@case("h_sensor_split_by_time", "healthy", "generic", category="splits")
def _():
    df = _series_table(110)
    return {"train": df.iloc[:2400], "eval": df.iloc[2400:], "time": "time"}


# ── driving ─────────────────────────────────────────────────────────────────────────────────────

def _lanes(df: pd.DataFrame, seed: int) -> pd.DataFrame:
    """A lane-width column from the map: 3.0-3.8 m lanes, one value per episode."""
    widths = np.random.default_rng(seed).uniform(3.0, 3.8, df["episode"].nunique())
    df["lane_width"] = df["episode"].map(dict(zip(sorted(df["episode"].unique()), widths)))
    return df


@case("h_drive_lane_width_cm", ["position-units"], "driving", category="units")
def _():
    df = _lanes(driving_log(111, episodes=40), 111)
    df["lane_width"] *= 100  # the map exported in centimetres, the track in metres
    return {"train": df, **DRIVE}


@case("h_drive_lane_width_m", "healthy", "driving", category="units")
def _():
    return {"train": _lanes(driving_log(111, episodes=40), 111), **DRIVE}


@case("h_drive_degrees_signed", ["heading-units"], "driving", category="units")
def _():
    df = driving_log(112, episodes=50, steps=100)
    df["heading"] = np.degrees(df["heading"])  # (-180, 180]
    return {"train": df, **DRIVE}


@case("h_drive_dropped_frames", ["uneven-sampling"], "driving", category="time")
def _():
    df = driving_log(113, episodes=40, steps=120)
    keep = np.random.default_rng(113).random(len(df)) > 0.08  # 8% of frames lost by the logger
    return {"train": df[keep], **DRIVE}


@case("h_drive_next_second_speed", ["future-feature", "feature-leakage"], "driving", category="leakage")
def _():
    df = driving_log(114, episodes=40, steps=120)
    df["v_next"] = df.groupby("episode")["speed"].shift(-10)  # the speed one second later
    return {"train": df.dropna(), **DRIVE}


@case("h_drive_scene_in_both", ["split-overlap"], "driving", category="splits")
def _():
    df = driving_log(115, episodes=50)
    scenes = df["episode"].unique()
    val = df[df["episode"].isin(scenes[35:])].copy()
    val[["x", "y"]] += 0.01  # a re-run of the same scenes through the exporter
    return {"train": df[df["episode"].isin(scenes[:45])], "eval": val, **DRIVE}


@case("h_drive_scenes_disjoint", "healthy", "driving", category="splits")
def _():
    df = driving_log(115, episodes=50)
    scenes = df["episode"].unique()
    return {"train": df[df["episode"].isin(scenes[:40])], "eval": df[df["episode"].isin(scenes[40:])], **DRIVE}


# ── robotics ────────────────────────────────────────────────────────────────────────────────────

def _demos4(seed: int, **kw) -> dict:
    """Demonstrations with a fourth action dimension: a wrist rotation command in rad/s."""
    d = reach_demos(seed, episodes=70, steps=60, **kw)
    r = np.random.default_rng(seed)
    wrist = 0.3 * np.sin(np.arange(len(d["action"])) / 7.0) + r.normal(0, 0.05, len(d["action"]))
    d["action"] = np.column_stack([d["action"], wrist])
    return d


@case("h_robot_joint_glitch", ["data-outliers"], "robotics", category="statistics")
def _():
    d = _demos4(121)
    d["action"][[40, 900, 2300], 3] = [50.0, -50.0, 50.0]  # a wrist command of ±50 among ±0.5
    return {"train": d}


@case("h_robot_one_step_late", ["action-lag"], "robotics", category="lag")
def _():
    return {"train": _demos4(122, lag=1)}


@case("h_robot_std2_cosine", ["noise-schedule-mismatch"], "robotics", category="schedule")
def _():
    d = _demos4(123)
    a = d["action"]
    d["action"] = 2.0 * (a - a.mean(0)) / a.std(0)  # actions with std 2.0 under an image schedule
    return {"train": d, "schedule": "cosine:500"}


@case("h_robot_unit_cosine", "healthy", "robotics", category="schedule")
def _():
    d = _demos4(123)
    a = d["action"]
    d["action"] = (a - a.mean(0)) / a.std(0)
    return {"train": d, "schedule": "cosine:500"}


@case("h_robot_episode_in_both", ["split-overlap"], "robotics", category="splits")
def _():
    d = _demos4(124)
    n = len(d["episode"])
    cut, back = int(n * 0.8), int(n * 0.7)  # eval starts inside training's last episodes
    return {"train": {k: v[:cut] for k, v in d.items()}, "eval": {k: v[back:] for k, v in d.items()}}
