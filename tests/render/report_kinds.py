"""One report of every kind the suite produces, built once per session and shared by the render tests:
one per command, one that could not look, an empty one and one full of hostile user text."""

import numpy as np
import pandas as pd
import torch
from torch import nn

from conftest import EXAMPLES, run_example, validate
from traindoctor import Monitor, audit_data, checkup, sweeps
from traindoctor.cli import _load_setup
from traindoctor.curves import analyze
from traindoctor.lint.engine import Config, lint_paths
from traindoctor.monitor import load_run
from traindoctor.vocabulary.finding import finding
from traindoctor.vocabulary.report import Report

KINDS = ("run", "curves", "checkup", "report", "lint", "sweeps", "data", "could-not-check", "empty", "hostile")
_built: dict = {}


def training_log(tmp_path):
    """A CSV log with train/val loss (val rising after step 1500), an accuracy and a warmup-cosine LR."""
    rng = np.random.default_rng(0)
    t = np.arange(3000)
    loss = (2.3 * np.exp(-t / 500) + 0.3) * np.exp(0.1 * rng.standard_normal(len(t)))
    lr = np.where(t < 200, 3e-4 * t / 200, 1.5e-4 * (1 + np.cos(np.pi * (t - 200) / 2800)))
    vt = t[::100]
    frame = pd.DataFrame({"step": t, "train/loss": loss, "lr": lr}).merge(
        pd.DataFrame({"step": vt, "val/loss": 0.35 + 2.0 * np.exp(-vt / 500) + np.maximum(0, vt - 1500) / 3000,
                      "val/acc": 1 - 0.9 * np.exp(-vt / 600)}), on="step", how="left")
    frame.to_csv(tmp_path / "log.csv", index=False)
    return tmp_path / "log.csv"


def monitored_run(tmp_path, steps=300):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 5))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
    x = torch.randn(512, 20)
    y = x[:, :5].argmax(1)
    with Monitor(model, opt, log_dir=tmp_path / "run") as monitor:
        for i in range(steps):
            batch = slice(i % 8 * 64, i % 8 * 64 + 64)
            loss = nn.functional.cross_entropy(model(x[batch]), y[batch])
            opt.zero_grad()
            loss.backward()
            monitor.log(loss=loss)
            opt.step()
            sched.step()
    return load_run(tmp_path / "run")


def sweep_table() -> pd.DataFrame:
    """A learning-rate sweep over 5 seeds: a real effect (higher accuracy at lower rates) plus seed noise."""
    rng = np.random.default_rng(0)
    rows = [{"name": f"run-{seed}-{lr}", "lr": lr, "seed": seed,
             "val/acc": 0.8 - 0.02 * np.log10(lr / 1e-4) + 0.01 * rng.standard_normal()}
            for seed in range(5) for lr in (1e-4, 1e-3, 1e-2)]
    return pd.DataFrame(rows)


def data_splits():
    """A driving-like table and its evaluation split: a -999 sentinel, class labels, an ADE per row that is
    worse on the rare pedestrians, and a shifted feature in evaluation."""
    def split(n, seed, shift=0.0):
        rng = np.random.default_rng(seed)
        agent = rng.choice(["car", "truck", "pedestrian"], n, p=[0.8, 0.12, 0.08]).astype(object)
        speed = rng.gamma(3.0, 4.0, n) + shift
        speed[rng.random(n) < 0.02] = -999.0
        return pd.DataFrame({"speed": speed, "accel": rng.normal(0, 1.5, n), "agent": agent,
                             "label": rng.integers(0, 3, n),
                             "ade": rng.gamma(2.0, 0.5, n) * np.where(agent == "pedestrian", 2.5, 1.0)})
    return split(3000, 0), split(800, 1, shift=3.0)


def hostile_report():
    """Every place a report carries user text, each holding HTML, a pipe, backticks and a fence."""
    evil = "<script>alert(1)</script> a|b ``` `x` [link](javascript:alert(1)) *em* _u_ &amp;\n\n# heading"
    found = finding("script-error", f"raised ValueError: {evil}", "run",
                    location={"file": "src/<evil>|x.py", "line": 3, "module": "enc`oder|<i>"},
                    evidence={"traceback": f"Traceback (most recent call last):\n  File \"<evil>.py\"\n```\n{evil}\n````\nend"})
    found.hypotheses[0].cause = f"cause {evil}"
    report = Report(f"run <evil>|{evil}.py", [found], unchecked=[f"reason {evil}"],
                    sections={"checkup": {"probes": [{"name": "overfit", "status": "failed", "seconds": 0.1, "note": evil}],
                                          "seconds": 0.1, "model": "<Net>|", "batch_size": 2},
                              "curves": {"notes": [f"skipped {evil}"], "roles": {"train": [], "val": [], "metrics": [], "lr": [], "modules": []},
                                         "plot": {}, "series": {f"loss{evil}": {"points": 3, "first": 1.0, "last": 0.5,
                                                                               "nonfinite": 0}}}})
    return report, evil


def reports(tmp_path_factory) -> dict[str, Report]:
    """{kind: report}; the commands' reports take seconds each, so they are built once per session."""
    if not _built:
        tmp = tmp_path_factory.mktemp("reports")
        _built.update({
            "run": run_example("broken_lr_too_high.py"),
            "curves": validate(analyze(training_log(tmp))),
            "checkup": validate(checkup(**_load_setup(f"{EXAMPLES / 'healthy_mlp.py'}:make_setup"), progress=False,
                                        probes=("init-loss", "overfit", "lr-range"))),
            "report": validate(monitored_run(tmp)),
            "lint": lint_paths([EXAMPLES], Config())[0],
            "sweeps": validate(sweeps(sweep_table())),
            "data": validate(audit_data(*data_splits(), slice="agent", metric="ade")),
            "could-not-check": Report("monitor", [finding("lr-too-low", "lr 1e-9", "monitor")],
                                      unchecked=["the monitor disabled itself: ValueError: boom"]),
            "empty": Report("run x", []),
            "hostile": hostile_report()[0],
        })
    return _built
