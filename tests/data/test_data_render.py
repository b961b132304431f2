"""A data report as a person reads it: the headline's row counts, histograms per dimension and the class
balance in the HTML, the statistics and slices as tables — and `traindoctor data --slice` end to end."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd

from conftest import ROOT, validate
from traindoctor.data import audit_data
from traindoctor.render import render
from traindoctor.render.figures import figures


def table(n, seed, ped=2.5):
    rng = np.random.default_rng(seed)
    agent = rng.choice(["car", "truck", "pedestrian"], n, p=[0.8, 0.12, 0.08]).astype(object)
    return pd.DataFrame({"speed": rng.gamma(3.0, 4.0, n), "agent": agent, "label": rng.integers(0, 3, n),
                         "ade": rng.gamma(2.0, 0.5, n) * np.where(agent == "pedestrian", ped, 1.0)})


def test_headline_histograms_class_balance_and_tables():
    report = validate(audit_data(table(2000, 0), eval=table(500, 1), slice="agent", metric="ade"))
    text = render(report, "text")
    assert text.splitlines()[0].endswith("train 2,000 rows, eval 500 rows, 3 numeric dimensions")
    assert {p.name for p in figures(report)} == {"data-histograms", "class-balance-label", "slices-train-agent",
                                                   "slices-eval-agent"}
    page = render(report, "html")
    assert "<h3>train: 2,000 rows</h3>" in page and "<h3>eval: 500 rows</h3>" in page
    assert "ade by <code>agent</code> in train" in page and "Label noise" in page
    hist = report.sections["data"]["splits"]["eval"]["dims"]["speed"]["histogram"]
    train_hist = report.sections["data"]["splits"]["train"]["dims"]["speed"]["histogram"]
    assert hist["edges"] == train_hist["edges"]  # the same bins in every split
    assert abs(sum(hist["counts"]) + hist["below"] + hist["above"] - 500) < 1


def test_a_report_without_classes_or_slices_draws_histograms_only():
    rng = np.random.default_rng(0)
    report = audit_data({"x": rng.normal(size=(500, 4)), "target": rng.normal(size=500)})
    assert [p.name for p in figures(report)] == ["data-histograms"]
    assert "Label noise" not in render(report, "html")


def test_cli_slice_end_to_end(tmp_path):
    table(3000, 0).to_csv(tmp_path / "results.csv", index=False)
    done = subprocess.run([sys.executable, "-m", "traindoctor", "data", str(tmp_path / "results.csv"), "--slice", "agent",
                           "--metric", "ade", "--format", "json"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr  # a warning: exit 0
    out = json.loads(done.stdout)
    assert [f["code"] for f in out["findings"]] == ["slice-underperforms"]
    assert out["data"]["slices"]["train"]["agent"]["slices"][0]["value"] == "pedestrian"


def test_cli_healthy_slices_are_silent(tmp_path):
    table(3000, 0, ped=1.0).to_csv(tmp_path / "results.csv", index=False)
    done = subprocess.run([sys.executable, "-m", "traindoctor", "data", str(tmp_path / "results.csv"), "--slice", "agent",
                           "--metric", "ade"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "no problem found" in done.stdout, done.stdout + done.stderr


def test_driving_and_robotics_reports_draw_paths_bins_and_lags():
    sys.path.insert(0, str(ROOT / "bench" / "data"))
    from synth import driving_log, reach_demos

    df = driving_log(20, episodes=40)
    df[["x", "y", "target_x", "target_y"]] *= 100
    driving = validate(audit_data(df, domain="driving", target="target_x,target_y"))
    assert {"trajectories-train", "lag-correlation"} <= {p.name for p in figures(driving)}
    paths = driving.sections["data"]["driving"]["train"]["paths"]
    assert len(paths) == 8 and all(len(p["x"]) == len(p["y"]) <= 200 for p in paths)
    unit = next(f for f in driving.findings if f.code == "position-units")
    assert "{" not in unit.observation and "70 m/s" in unit.observation
    robot = validate(audit_data(reach_demos(3, episodes=60, lag=2), domain="robotics"))
    assert {"bin-coverage", "lag-correlation"} <= {p.name for p in figures(robot)}
    lag = robot.sections["data"]["robotics"]["lag_correlation"]
    assert lag["lags"][int(np.nanargmax([np.nan if c is None else c for c in lag["corr"]]))] == -2
    page = render(robot, "html")
    assert "Bin coverage of each action dimension" in page and "Cross-correlation of the changes" in page
