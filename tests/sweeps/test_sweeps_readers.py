"""Each format a sweep arrives in gives the same analysis: W&B runs exports (CSV, JSON, parquet),
plain tables (one row per run, or per run and step), MLflow's mlruns/ and TensorBoard run folders."""

import json

import pandas as pd
import pytest

from conftest import codes, validate
from sweeps_data import log_effect, sweep
from traindoctor.sweeps import SweepError, analyze, read

TRUTH = sweep(effect=log_effect(), seeds=4, metric="val/acc")


def assert_same_analysis(report, metric="val/acc", seed="seed", param="lr"):
    section = report.sections["sweeps"]
    assert section["metric"] == metric and section["columns"]["seed"] == seed and section["parameters"] == [param]
    assert codes(report, ("error", "warning", "info")) == ["reliable-effect"]
    (group,) = section["groups"].values()
    values = group["parameters"][param]["values"]
    assert [v["runs"] for v in values] == [4] * 4 and values[-1]["t"] > 2


def test_wandb_csv_export(tmp_path):
    frame = TRUTH.rename(columns={"name": "Name"}).assign(
        State="finished", Notes="-", User="me", Tags="", Created="2026-11-20T10:00:00", Runtime=120,
        Sweep="", **{"train/loss": lambda f: 1 - f["val/acc"], "_step": 1000})
    frame.to_csv(tmp_path / "wandb_export.csv", index=False)
    report = validate(analyze(tmp_path / "wandb_export.csv"))
    assert_same_analysis(report)
    assert any("metric: `val/acc`" in n and "train/loss" in n for n in report.sections["sweeps"]["notes"])


def test_wandb_json_export(tmp_path):
    runs = [{"name": r["name"], "id": f"id{i}", "group": "sweep-lr",
             "config": {"lr": {"value": r["lr"], "desc": None}, "seed": r["seed"], "_wandb": {"cli_version": "0.17"}},
             "summary": {"val/acc": r["val/acc"], "_step": 99, "_runtime": 4.2}} for i, r in TRUTH.iterrows()]
    (tmp_path / "runs.json").write_text(json.dumps(runs))
    report = validate(analyze(tmp_path / "runs.json"))
    assert_same_analysis(report)
    assert list(report.sections["sweeps"]["groups"]) == ["sweep-lr"]


@pytest.mark.parametrize("prefixed", [True, False])
def test_parquet(tmp_path, prefixed):
    frame = TRUTH.rename(columns={"lr": "config.lr", "seed": "config.seed", "val/acc": "summary.val/acc"}) if prefixed else TRUTH
    frame.to_parquet(tmp_path / "runs.parquet")
    assert_same_analysis(validate(analyze(tmp_path / "runs.parquet")))


def test_long_table_one_row_per_step_and_best(tmp_path):
    rows = []
    for _, r in TRUTH.iterrows():
        for step in range(5):  # the metric peaks at step 2 and falls back by 0.1: --best reads the peak
            rows.append({"run_id": r["name"], "seed": r["seed"], "lr": r["lr"], "step": step,
                         "val/acc": r["val/acc"] - 0.1 * abs(step - 2)})
    pd.DataFrame(rows).to_csv(tmp_path / "long.csv", index=False)
    final = validate(analyze(tmp_path / "long.csv"))
    best = validate(analyze(tmp_path / "long.csv", best=True))
    assert_same_analysis(best)
    gap = [b["mean"] - f["mean"] for b, f in zip(best.sections["sweeps"]["groups"][""]["parameters"]["lr"]["values"],
                                                   final.sections["sweeps"]["groups"][""]["parameters"]["lr"]["values"])]
    assert gap == pytest.approx([0.2] * 4) and best.sections["sweeps"]["reduce"] == "best"


def test_mlflow_runs(tmp_path, monkeypatch):
    mlflow = pytest.importorskip("mlflow")
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", (tmp_path / "mlruns").as_uri())
    for _, r in TRUTH.iterrows():
        with mlflow.start_run(run_name=r["name"]):
            mlflow.log_params({"lr": r["lr"], "seed": int(r["seed"])})
            for step in range(3):
                mlflow.log_metric("val/acc", float(r["val/acc"]) - 0.01 * (2 - step), step=step)
    runs = read(tmp_path / "mlruns")
    assert len(runs.frame) == 16 and set(runs.config) == {"lr", "seed"} and runs.metrics == ["val/acc"]
    assert_same_analysis(validate(analyze(tmp_path / "mlruns")))


@pytest.mark.parametrize("hparams", [False, True])
def test_tensorboard_runs(tmp_path, hparams):
    from torch.utils.tensorboard import SummaryWriter

    for _, r in TRUTH.iterrows():
        folder = tmp_path / "tb" / (r["name"] if hparams else f"lr={r['lr']},seed={r['seed']}")
        with SummaryWriter(folder) as writer:
            for step in range(3):
                writer.add_scalar("val/acc", float(r["val/acc"]) - 0.01 * (2 - step), step)
            if hparams:
                writer.add_hparams({"lr": float(r["lr"]), "seed": int(r["seed"])}, {}, run_name=".")
    assert_same_analysis(validate(analyze(tmp_path / "tb")))


def test_monitor_runs(tmp_path):
    """A directory of traindoctor Monitor runs (a log_dir each, named `lr=...,seed=...`), as users write them."""
    import torch

    from traindoctor import Monitor

    for _, r in TRUTH.iterrows():
        model = torch.nn.Linear(2, 1)
        opt = torch.optim.SGD(model.parameters(), lr=float(r["lr"]))
        with Monitor(model, opt, log_dir=tmp_path / "runs" / f"lr={r['lr']},seed={r['seed']}") as monitor:
            for step in range(3):
                loss = model(torch.ones(4, 2)).pow(2).mean()
                opt.zero_grad()
                loss.backward()
                monitor.log(loss=loss, **{"val/acc": float(r["val/acc"]) - 0.01 * (2 - step)})
                opt.step()
    runs = read(tmp_path / "runs")
    assert "grad_norm" not in runs.metrics and {"loss", "val/acc"} <= set(runs.metrics)
    assert_same_analysis(validate(analyze(tmp_path / "runs", metric="val/acc")))


def test_unreadable_inputs_say_what_to_do(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "folder").mkdir()
    for path, said in ((tmp_path / "missing.csv", "no such file"), (tmp_path / "empty.csv", "not a readable table"),
                       (tmp_path / "notes.txt", "unknown format"), (tmp_path / "folder", "no MLflow runs")):
        with pytest.raises(SweepError, match=said):
            read(path)
