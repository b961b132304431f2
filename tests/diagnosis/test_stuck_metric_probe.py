"""The stuck-metric probe: why_stuck's decision table inside checkup, for the setup's metric_fn. A metric blocked
by a structural ceiling and metrics that move, through traindoctor.checkup and `traindoctor checkup FILE:make_setup`
with its defaults; skipped with a note when no metric_fn is given."""
import json
import subprocess
import sys
import textwrap

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import traindoctor
from conftest import ROOT, validate
from traindoctor.diagnosis.setup import SetupError
from test_why_stuck import Capped, FrozenLastLayer, _data, accuracy


def _probe(report):
    return next(r for r in report.sections["checkup"]["probes"] if r["name"] == "stuck-metric")


def _stuck_codes(report):
    return [f.code for f in report.findings if f.code.startswith("metric-")]


@pytest.mark.parametrize("model", [Capped, FrozenLastLayer])
def test_a_metric_blocked_by_a_structural_ceiling(model):
    torch.manual_seed(0)
    x, y = _data()
    net = model()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    report = validate(traindoctor.checkup(net, (x, y), F.cross_entropy, probes=("stuck-metric",), metric_fn=accuracy))
    assert _stuck_codes(report) == ["metric-structural-ceiling"], report.findings
    record = _probe(report)
    assert record["status"] == "ran" and [a["lr_scale"] for a in record["attempts"]] == [1.0, 10.0]
    assert record["outputs"] and "parameters" in record and set(record["trained"]) == {"all"}
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())  # the caller's model untouched


@pytest.mark.parametrize("shape", ["mlp-classifier", "linear-classifier", "regression-mse"])
def test_a_metric_that_moves_is_no_ceiling_at_checkups_default_rate(shape):
    """checkup's default optimizer (AdamW at 3e-4) moves a linear model's accuracy little in the probe's steps:
    the 10x retry keeps that from reading as a ceiling."""
    torch.manual_seed(0)
    x, y = _data(n=64, seed=1)
    if shape == "regression-mse":
        net = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 1))
        report = traindoctor.checkup(net, (x, x[:, :1] * 2 - x[:, 1:2]), F.mse_loss, probes=("stuck-metric",),
                                     metric_fn=F.mse_loss, higher_is_better=False)
    else:
        net = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2)) if shape == "mlp-classifier" else nn.Linear(8, 2)
        report = traindoctor.checkup(net, (x, y), F.cross_entropy, probes=("stuck-metric",), metric_fn=accuracy)
    validate(report)
    assert _stuck_codes(report) == ["metric-moves"], (report.findings, _probe(report))
    assert [f.severity for f in report.findings] == ["info"]


def test_without_a_metric_fn_the_probe_is_skipped_with_a_note():
    torch.manual_seed(0)
    x, y = _data()
    report = validate(traindoctor.checkup(Capped(), (x, y), F.cross_entropy, probes=("stuck-metric",)))
    record = _probe(report)
    assert record["status"] == "skipped" and "no metric_fn given" in record["note"]
    assert _stuck_codes(report) == []


def test_a_model_with_its_own_loss_or_a_metric_that_is_not_callable():
    torch.manual_seed(0)
    x, y = _data()
    with pytest.raises(SetupError, match="metric_fn must be a callable"):
        traindoctor.checkup(Capped(), (x, y), F.cross_entropy, probes=("stuck-metric",), metric_fn=0.5)
    report = traindoctor.checkup(Capped(), (x, y), None, probes=("stuck-metric",), metric_fn=accuracy)
    assert _probe(report)["status"] == "skipped" and "own loss" in _probe(report)["note"]


SETUP = """
import torch
import torch.nn.functional as F
from torch import nn

class Capped(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 1))

    def forward(self, x):
        z1 = torch.tanh(self.body(x)) - 1.5 if CAPPED else self.body(x)
        return torch.cat([torch.zeros_like(z1), z1], dim=1)

def accuracy(out, y):
    return (out.argmax(1) == y).float().mean()

def make_setup():
    torch.manual_seed(0)
    x = torch.randn(128, 8)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).long()
    return dict(model=Capped(), batch=(x, y), loss_fn=F.cross_entropy, metric_fn=accuracy)
"""


@pytest.mark.parametrize("capped", [True, False])
def test_checkup_command_runs_the_probe_from_the_setup(tmp_path, capped):
    path = tmp_path / "setup.py"
    path.write_text(textwrap.dedent(SETUP.replace("CAPPED", str(capped))))
    done = subprocess.run([sys.executable, "-m", "traindoctor", "checkup", f"{path}:make_setup", "--format", "json"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    data = json.loads(done.stdout)
    record = next(r for r in data["checkup"]["probes"] if r["name"] == "stuck-metric")
    codes = [f["code"] for f in data["findings"]]
    assert record["status"] == "ran", (record, done.stderr)
    if capped:
        assert "metric-structural-ceiling" in codes and done.returncode == 1, codes
    else:
        assert "metric-moves" in codes and "metric-structural-ceiling" not in codes, codes
