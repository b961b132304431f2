"""The robotics checks (`--domain robotics`): each planted fault on three differently shaped demonstration
sets (a dict of arrays with obs/action vectors, a flat table with one column per dimension named by
--obs/--action, a dict of torch tensors), and healthy look-alikes that must stay silent. Demonstrations come
from the benchmark's scripted policies (bench/data/synth.py)."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import ROOT, validate
from traindoctor.data import DataError, audit_data
from traindoctor.data.robotics import read_schedule

sys.path.insert(0, str(ROOT / "bench" / "data"))
from synth import reach_demos  # noqa: E402


def demos(seed=1, **kw):
    return reach_demos(seed, episodes=60, **kw)


def as_arrays(d):
    return {"train": d}


def as_table(d):
    out = pd.DataFrame({"episode_id": d["episode"], "t": d["time"]})
    for i in range(d["obs"].shape[1]):
        out[f"state_{i}"] = d["obs"][:, i]
    for i in range(d["action"].shape[1]):
        out[f"act_{i}"] = d["action"][:, i]
    acts = ",".join(f"act_{i}" for i in range(d["action"].shape[1]))
    return {"train": out, "action": acts, "obs": ",".join(f"state_{i}" for i in range(d["obs"].shape[1])), "time": "t"}


def as_tensors(d):
    return {"train": {k: torch.as_tensor(v) for k, v in d.items()}}


SHAPES = [as_arrays, as_table, as_tensors]


def codes(args, **kw):
    report = validate(audit_data(domain="robotics", **args, **kw))
    return [f.code for f in report.findings if f.severity in ("warning", "error")]


def first(args, code, **kw):
    found = codes(args, **kw)
    assert found and found[0] == code, found


@pytest.mark.parametrize("shape", SHAPES)
def test_healthy_demonstrations_are_silent(shape):
    assert codes(shape(demos(2))) == []


# ── observation-action lag ──────────────────────────────────────────────────────────────────────

@pytest.mark.parametrize("shape,lag", [(as_arrays, 1), (as_table, 2), (as_tensors, 3)])
def test_late_actions(shape, lag):
    report = audit_data(domain="robotics", **shape(demos(3, lag=lag)))
    found = [f for f in report.findings if f.code == "action-lag"]
    assert found and found[0].evidence["lag"] == lag


def test_position_targets_in_step_are_silent():
    d = demos(4)
    nxt = np.vstack([d["obs"][1:, :2], d["obs"][-1:, :2]])  # the action is the next position (a position target)
    d["action"] = np.column_stack([nxt, d["action"][:, 2]])
    assert "action-lag" not in codes(as_arrays(d))


# ── bins and binary dimensions ──────────────────────────────────────────────────────────────────

def _heavy(d, seed):
    d["action"][:, 1] = 0.05 * np.random.default_rng(seed).standard_t(1.2, len(d["action"]))
    return d


@pytest.mark.parametrize("shape", SHAPES)
def test_heavy_tailed_actions_fill_few_bins(shape):
    first(shape(_heavy(demos(5), 5)), "bin-coverage")


def test_integer_codes_fill_few_bins_and_percentile_codes_all():
    d = demos(6)
    raw = np.random.default_rng(6).standard_t(1.5, len(d["action"]))
    d["action"][:, 0] = np.round((raw - raw.min()) / (raw.max() - raw.min()) * 255)
    assert "bin-coverage" in codes(as_arrays(d))
    d["action"][:, 0] = np.searchsorted(np.quantile(raw, np.linspace(0, 1, 257)[1:-1]), raw).astype(float)
    assert "bin-coverage" not in codes(as_arrays(d))


def test_gaussian_and_uniform_actions_use_their_bins():
    d = demos(7)
    r = np.random.default_rng(7)
    d["action"][:, 0] = r.normal(0, 0.5, len(d["action"]))
    d["action"][:, 1] = r.uniform(-1, 1, len(d["action"]))
    assert "bin-coverage" not in codes(as_arrays(d))


def test_an_outlier_is_named_as_an_outlier_not_as_bins():
    d = demos(8)
    wrist = np.random.default_rng(8).uniform(-np.pi, np.pi, len(d["action"]))
    wrist[[10, 900]] = [50.0, -48.0]
    d["action"] = np.column_stack([d["action"], wrist])
    found = codes(as_arrays(d))
    assert found[0] == "data-outliers" and "bin-coverage" not in found


def test_gripper_dimension_is_info():
    report = audit_data(demos(9), domain="robotics")
    binary = [f for f in report.findings if f.code == "binary-action"]
    assert binary and binary[0].severity == "info" and "action[2]" in binary[0].observation


# ── noise schedules ─────────────────────────────────────────────────────────────────────────────

@pytest.mark.parametrize("shape", SHAPES)
def test_image_schedule_on_unscaled_actions(shape):
    d = demos(10)
    d["action"][:, :2] *= 4.0
    first(shape(d), "noise-schedule-mismatch", schedule="linear")


@pytest.mark.parametrize("schedule", [{"betas": np.linspace(1e-4, 0.02, 50).tolist()},
                                      {"alphas_cumprod": np.linspace(0.999, 0.2, 100).tolist()},
                                      {"kind": "flow", "t_min": 0.0, "prediction": "x"},
                                      {"kind": "flow", "t_max": 1.0, "prediction": "epsilon"}])
def test_schedules_that_do_not_drown_the_data_or_divide_by_zero(schedule):
    first(as_arrays(demos(11)), "noise-schedule-mismatch", schedule=schedule)


@pytest.mark.parametrize("schedule", ["cosine", "linear", "flow", "cosine:100",
                                      {"kind": "flow", "t_min": 1e-3, "prediction": "x"}])
def test_fitting_schedules_are_silent(schedule):
    assert "noise-schedule-mismatch" not in codes(as_arrays(demos(11)), schedule=schedule)


def test_schedule_from_files(tmp_path):
    np.save(tmp_path / "betas.npy", np.linspace(1e-4, 0.005, 200))
    (tmp_path / "flow.json").write_text(json.dumps({"kind": "flow", "t_min": 0.0, "prediction": "x"}))
    assert read_schedule(str(tmp_path / "betas.npy")).alpha_bar[-1] > 0.5
    assert read_schedule(str(tmp_path / "flow.json")).kind == "flow"
    with pytest.raises(DataError, match="unknown schedule"):
        read_schedule("quadratic")


# ── demonstrations that disagree ────────────────────────────────────────────────────────────────

@pytest.mark.parametrize("shape", SHAPES)
def test_bimodal_demonstrations(shape):
    first(shape(reach_demos(12, episodes=80, obstacle="random")), "bimodal-actions")


@pytest.mark.parametrize("shape", SHAPES)
def test_a_policy_that_switches_on_the_observation_is_silent(shape):
    assert "bimodal-actions" not in codes(shape(reach_demos(12, episodes=80, obstacle="by-side")))


def test_uniformly_spread_actions_are_not_two_modes():
    d = demos(13)
    d["action"][:, 0] = np.random.default_rng(13).uniform(-1, 1, len(d["action"]))  # independent of obs
    assert "bimodal-actions" not in codes(as_arrays(d))


def test_cli_robotics_end_to_end(tmp_path):
    d = demos(14)
    d["action"][:, :2] *= 4.0
    np.savez(tmp_path / "demos.npz", **d)
    done = subprocess.run([sys.executable, "-m", "traindoctor", "data", str(tmp_path / "demos.npz"), "--domain",
                           "robotics", "--action", "action", "--obs", "obs", "--schedule", "linear", "--format", "json"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["findings"][0]["code"] == "noise-schedule-mismatch"


@pytest.mark.parametrize("shape", [as_arrays, as_table])
def test_late_actions_in_demonstrations_longer_than_the_sample(shape):
    # 400 episodes of 50 steps: 20,000 rows, judged on stretches of consecutive rows
    late = audit_data(domain="robotics", **shape(reach_demos(3, episodes=400, lag=2)))
    found = [f for f in late.findings if f.code == "action-lag"]
    assert found and found[0].evidence["lag"] == 2
    assert late.sections["data"]["robotics"]["series_judged"] is True
    assert codes(shape(reach_demos(4, episodes=400))) == []
