"""`traindoctor data --model module.py:function`: the leakage tracer from the command line, end to end."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd

from conftest import ROOT

MODELS = '''
import torch
from torch import nn


def batch_normalised():  # statistics over the batch: every sample sees the others
    return lambda x: (x - x.mean(0)) / x.std(0)


def training_batchnorm():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 1)).train()


def per_sample():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1)).eval()


def with_batch():  # a model taking a dict, with its own batch
    net = nn.Linear(3, 2)
    def forward(obs, goal):
        return net(obs) + goal
    return forward, {"obs": torch.randn(16, 3), "goal": torch.randn(16, 2)}


def not_a_model():
    return 3
'''


def cli(*args):
    return subprocess.run([sys.executable, "-m", "traindoctor", "data", *map(str, args), "--format", "json"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)


def setup(tmp_path):
    (tmp_path / "models.py").write_text(textwrap.dedent(MODELS))
    r = np.random.default_rng(0)
    pd.DataFrame({"a": r.normal(size=500), "b": r.normal(size=500), "c": r.gamma(2, size=500),
                  "d": r.uniform(size=500), "target": r.normal(size=500)}).to_csv(tmp_path / "train.csv", index=False)
    return tmp_path / "train.csv", tmp_path / "models.py"


def test_a_pipeline_normalising_over_the_batch_is_an_error(tmp_path):
    train, models = setup(tmp_path)
    for fn in ("batch_normalised", "training_batchnorm"):
        done = cli(train, "--model", f"{models}:{fn}")
        assert done.returncode == 1, done.stderr
        report = json.loads(done.stdout)
        assert report["findings"][0]["code"] == "cross-sample-leakage"
        assert report["data"]["leakage"]["batch"].startswith("the first 32 sampled rows of train, 4 feature(s)")


def test_a_per_sample_model_and_a_given_batch_are_silent(tmp_path):
    train, models = setup(tmp_path)
    for fn in ("per_sample", "with_batch"):
        done = cli(train, "--model", f"{models}:{fn}")
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout)
        assert not [f for f in report["findings"] if f["code"] == "cross-sample-leakage"]
        assert report["data"]["leakage"]["model"].endswith(fn)


def test_a_function_returning_no_model_exits_2(tmp_path):
    train, models = setup(tmp_path)
    done = cli(train, "--model", f"{models}:not_a_model")
    assert done.returncode == 2 and "returned int; return a model or pipeline" in done.stderr
    done = cli(train, "--model", f"{models}:missing")
    assert done.returncode == 2 and "defines no function missing()" in done.stderr
