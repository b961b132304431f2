"""The driving checks (`--domain driving`): each planted fault on three differently shaped logs (a table
with x/y columns, a dict of arrays with a position vector, a CSV with other names, microsecond timestamps
and 20 Hz), and healthy look-alikes that must stay silent. Logs come from the benchmark's kinematic bicycle
model (bench/data/synth.py)."""

import sys

import numpy as np
import pandas as pd
import pytest

from conftest import ROOT, validate
from traindoctor.data import audit_data

sys.path.insert(0, str(ROOT / "bench" / "data"))
from synth import driving_log  # noqa: E402

DRIVING = {"warning", "error"}


def log(seed=1, hz=10, **kw):
    if hz == 20:
        return driving_log(seed, episodes=25, steps=160, dt=0.05, horizon=10, **kw)
    return driving_log(seed, episodes=30, **kw)


def as_table(df, tmp_path):
    return {"train": df, "target": "target_x,target_y"}


def as_arrays(df, tmp_path):
    d = {k: df[k].to_numpy() for k in ("episode", "time", "heading", "speed")}
    d["position"] = df[["x", "y"]].to_numpy()
    d["target"] = df[["target_x", "target_y"]].to_numpy()
    for extra in set(df.columns) - {"episode", "time", "heading", "speed", "x", "y", "target_x", "target_y",
                                    "accel", "steer"}:
        d[extra] = df[extra].to_numpy()
    return {"train": d}


def as_csv(df, tmp_path):
    out = df.rename(columns={"episode": "scene_id", "time": "timestamp", "x": "pos_x", "y": "pos_y",
                             "heading": "yaw", "target_x": "fut_dx", "target_y": "fut_dy"})
    out["timestamp"] = (out["timestamp"] * 1e6).round()
    path = tmp_path / "log.csv"
    out.to_csv(path, index=False)
    return {"train": str(path), "target": "fut_dx,fut_dy"}


SHAPES = [(as_table, 10), (as_arrays, 10), (as_csv, 20)]


def codes(args):
    report = validate(audit_data(domain="driving", **args))
    return [f.code for f in report.findings if f.severity in DRIVING]


def first(args, code):
    found = codes(args)
    assert found and found[0] == code, found
    return found


# ── units ───────────────────────────────────────────────────────────────────────────────────────

@pytest.mark.parametrize("shape,hz,factor", [(as_table, 10, 100.0), (as_arrays, 10, 1000.0), (as_csv, 20, 100.0)])
def test_centimetres_and_millimetres(tmp_path, shape, hz, factor):
    df = log(2, hz)
    df[["x", "y", "target_x", "target_y"]] *= factor
    first(shape(df, tmp_path), "position-units")


def test_feet_on_a_highway_names_feet():
    df = log(3)
    for c in ("x", "y"):
        df[c] = df.groupby("episode")[c].transform(lambda s: s.iloc[0] + (s - s.iloc[0]) * 2.5)  # faster
    df[["x", "y"]] *= 3.2808
    report = audit_data(df, domain="driving", target="target_x,target_y")
    units = [f for f in report.findings if f.code == "position-units"]
    assert units and units[0].evidence["likely_unit"] == "ft"


@pytest.mark.parametrize("shape,hz", SHAPES)
def test_healthy_logs_are_silent(tmp_path, shape, hz):
    assert codes(shape(log(4, hz), tmp_path)) == []


@pytest.mark.parametrize("shape,hz,wrap", [(as_table, 10, "signed"), (as_arrays, 10, "0_360"), (as_csv, 20, "0_360")])
def test_degrees(tmp_path, shape, hz, wrap):
    df = log(5, hz)
    df["heading"] = np.degrees(df["heading"]) if wrap == "signed" else np.degrees(df["heading"]) % 360
    first(shape(df, tmp_path), "heading-units")


@pytest.mark.parametrize("convention", ["unwrapped", "0_2pi"])
def test_radians_in_any_convention_are_silent(convention):
    df = log(5)
    if convention == "unwrapped":
        df["heading"] = df.groupby("episode")["heading"].transform(lambda h: np.unwrap(h.to_numpy()))
    else:
        df["heading"] = df["heading"] % (2 * np.pi)
    assert codes({"train": df, "target": "target_x,target_y"}) == []


# ── frames and time ─────────────────────────────────────────────────────────────────────────────

@pytest.mark.parametrize("shape,hz", SHAPES)
def test_mixed_frames(tmp_path, shape, hz):
    df = pd.concat([log(6, hz), log(7, hz, world=False, first_episode=500)])
    first(shape(df, tmp_path), "mixed-frames")


def test_frames_differing_between_splits():
    found = codes({"train": log(6, world=False), "eval": log(7, first_episode=500), "target": "target_x,target_y"})
    assert found[0] == "mixed-frames"


def test_one_frame_is_silent():
    assert codes({"train": log(8, world=False), "target": "target_x,target_y"}) == []


@pytest.mark.parametrize("shape,hz", SHAPES)
def test_rows_merged_out_of_order(tmp_path, shape, hz):
    df = log(9, hz)
    df = pd.concat([df.iloc[::2], df.iloc[1::2]]).sort_values("episode", kind="stable")
    assert "timestamps-disordered" in codes(shape(df, tmp_path))[:1]


@pytest.mark.parametrize("shape,hz", SHAPES)
def test_dropped_frames(tmp_path, shape, hz):
    df = log(10, hz)
    first(shape(df[np.random.default_rng(0).random(len(df)) > 0.06], tmp_path), "uneven-sampling")


def test_jittered_clock_and_a_shuffled_file_are_silent():
    df = log(10)
    df["time"] += np.random.default_rng(0).normal(0, 0.002, len(df))
    assert codes({"train": df, "target": "target_x,target_y"}) == []
    shuffled = log(10).sample(frac=1.0, random_state=0)  # rows in no order: not a series in file order
    assert "timestamps-disordered" not in codes({"train": shuffled, "target": "target_x,target_y"})


# ── lags, kinematics, future information ────────────────────────────────────────────────────────

@pytest.mark.parametrize("shape,hz", SHAPES)
def test_target_from_the_past(tmp_path, shape, hz):
    df = log(11, hz)
    g = df.groupby("episode")
    df["target_x"], df["target_y"] = df["x"] - g["x"].shift(5), df["y"] - g["y"].shift(5)
    first(shape(df.dropna(), tmp_path), "target-lag")


def test_absolute_target_equal_to_the_present():
    df = log(12)
    df["target_x"], df["target_y"] = df["x"], df["y"]
    assert "target-lag" in codes({"train": df, "target": "target_x,target_y"})


def test_absolute_future_target_leads_by_its_horizon():
    df = log(12)
    g = df.groupby("episode")
    df["target_x"], df["target_y"] = g["x"].shift(-3), g["y"].shift(-3)
    report = audit_data(df.dropna(), domain="driving", target="target_x,target_y")
    assert "target-lag" not in [f.code for f in report.findings]


def test_horizon_differing_between_splits():
    train, val = log(13), log(14, first_episode=500)
    g = val.groupby("episode")
    val["target_x"] = g["x"].shift(-8) - val["x"]
    val["target_y"] = g["y"].shift(-8) - val["y"]
    assert "target-lag" in codes({"train": train, "eval": val.dropna(), "target": "target_x,target_y"})


@pytest.mark.parametrize("shape,hz", SHAPES)
def test_teleports(tmp_path, shape, hz):
    df = log(15, hz)
    r = np.random.default_rng(15)
    df.loc[df.index[r.choice(len(df), 5, replace=False)], "x"] += 20.0
    first(shape(df, tmp_path), "kinematic-infeasible")


def test_emergency_stop_and_noisy_gps_are_silent():
    df = log(16)
    t = np.arange(80) * 0.1
    speed = np.maximum(25.0 - 8.0 * np.maximum(t - 2.0, 0), 0)  # 0.8 g
    along = np.concatenate([[0], np.cumsum(speed[:-1] * 0.1)])
    rows = df.index[df["episode"] == 3]
    df.loc[rows, "x"] = df.loc[rows[0], "x"] + along
    df.loc[rows, "y"] = df.loc[rows[0], "y"]
    df.loc[rows, "heading"] = 0.0
    df.loc[rows, "target_x"] = np.concatenate([along[5:], np.full(5, along[-1])]) - along
    df.loc[rows, "target_y"] = 0.0
    assert codes({"train": df, "target": "target_x,target_y"}) == []


@pytest.mark.parametrize("shape,hz", SHAPES)
def test_future_speed_among_features(tmp_path, shape, hz):
    df = log(17, hz)
    df["speed_ahead"] = df.groupby("episode")["speed"].shift(-3)
    first(shape(df.dropna(), tmp_path), "future-feature")


def test_past_and_smoothed_speeds_are_silent():
    df = log(17)
    g = df.groupby("episode")["speed"]
    df["speed_prev"] = g.shift(1)
    df["speed_avg"] = g.transform(lambda s: s.rolling(5, min_periods=1).mean())
    df["accel_cmd"] = df["accel"]  # a cause of the motion, known now
    assert codes({"train": df.dropna(), "target": "target_x,target_y"}) == []


def test_no_positions_no_driving_findings_and_the_report_says_why():
    df = log(18).rename(columns={"x": "a", "y": "b"})
    report = audit_data(df, domain="driving", target="target_x,target_y")
    assert [f.code for f in report.findings if f.severity != "info"] == []
    assert "--position" in report.sections["data"]["driving"]["train"]["why"]


def test_what_the_checks_read_is_in_the_report():
    report = audit_data(log(18), domain="driving", target="target_x,target_y")
    read = report.sections["data"]["driving"]["train"]
    assert read["position"] == ["x", "y"] and read["heading"] == "heading" and abs(read["step_s"] - 0.1) < 1e-9


LONG = 320  # episodes of 80 steps: 25,600 rows, more than the row sample holds (10,000)


def _long(seed):
    return driving_log(seed, episodes=LONG)


@pytest.mark.parametrize("plant, code", [
    ("centimetres", "position-units"), ("merged out of order", "timestamps-disordered"),
    ("target from the past", "target-lag")])
def test_a_log_longer_than_the_sample_is_judged_on_its_stretches(plant, code):
    df = _long(20)
    if plant == "centimetres":
        df[["x", "y", "target_x", "target_y"]] *= 100
    elif plant == "merged out of order":
        df = pd.concat([df.iloc[::2], df.iloc[1::2]]).sort_values("episode", kind="stable")
    else:
        g = df.groupby("episode")
        df["target_x"], df["target_y"] = df["x"] - g["x"].shift(5), df["y"] - g["y"].shift(5)
        df = df.dropna()
    report = audit_data(df, domain="driving", target="target_x,target_y")
    read = report.sections["data"]["driving"]["train"]
    assert read["judged"] is True and read["stretches"] == 20 and read["rows_read"] == 10_000, read
    found = [f.code for f in report.findings if f.severity in DRIVING]
    assert found[:1] == [code], found


def test_a_long_healthy_log_and_one_long_episode_are_silent():
    assert codes({"train": _long(21), "target": "target_x,target_y"}) == []
    one = driving_log(22, episodes=1, steps=30_000)  # one drive of 50 minutes: stretches cut it, never join it
    assert codes({"train": one, "target": "target_x,target_y"}) == []


def test_cli_driving_end_to_end(tmp_path):
    import json
    import subprocess

    df = log(19)
    df[["x", "y", "target_x", "target_y"]] *= 100
    df.to_csv(tmp_path / "cm.csv", index=False)
    done = subprocess.run([sys.executable, "-m", "traindoctor", "data", str(tmp_path / "cm.csv"), "--domain", "driving",
                           "--target", "target_x,target_y", "--position", "x,y", "--heading", "heading",
                           "--format", "json"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    findings = json.loads(done.stdout)["findings"]
    assert findings[0]["code"] == "position-units"
