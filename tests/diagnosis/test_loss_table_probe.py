"""checkup's loss-table probe: the user's loss on the model's real outputs and on zero, small, converged
and degenerate ones. Losses that are dead or non-finite at outputs the model can give, against the stable
forms of the same losses."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from traindoctor import checkup


def data(n=32, classes=4, regression=False):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 8, generator=g)
    if regression:
        return x, torch.rand(n, 1, generator=g) * 3 + 0.5
    return x, torch.randint(0, classes, (n,), generator=g)


def model(out=4, *tail):
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, out), *tail)


def probe(net, batch, loss_fn):
    report = checkup(net, batch, loss_fn, probes=("loss-table",))
    record = next(p for p in report.sections["checkup"]["probes"] if p["name"] == "loss-table")
    return report, record


def hand_bce(p, y):
    return -(y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean()


def relative_error(out, y):
    return ((out - y) / out).abs().mean()  # the prediction in the denominator


@pytest.mark.parametrize("net, batch, loss_fn", [
    (model(1, nn.Sigmoid()), (data()[0], (data()[1] % 2).float().unsqueeze(1)), hand_bce),
    (model(4, nn.Softmax(-1)), data(), lambda p, y: F.nll_loss(torch.log(p), y)),
    (model(1), data(regression=True), relative_error),
])
def test_a_log_or_division_at_reachable_outputs_is_nonfinite(net, batch, loss_fn):
    report, record = probe(net, batch, loss_fn)
    assert "loss-nonfinite-region" in {f.code for f in report.findings}
    assert any("nonfinite" in r["flags"] for r in record["rows"])


@pytest.mark.parametrize("net, batch, loss_fn, severity", [
    (model(1), data(regression=True), lambda out, y: (out.round() - y.round()).abs().mean(), "error"),  # round(): no gradient
    (model(4), data(), lambda out, y: 1 - (out.argmax(1) == y).float().mean(), "error"),  # accuracy as a loss
    (model(1), data(regression=True), lambda out, y: F.mse_loss(F.relu(out), y), "warning"),  # dead at zero outputs
])
def test_zero_gradient_above_the_lowest_loss_is_a_dead_zone(net, batch, loss_fn, severity):
    report, _ = probe(net, batch, loss_fn)
    dead = next(f for f in report.findings if f.code == "loss-dead-zone")
    assert dead.severity == severity  # an error when the real outputs are in it: training cannot start


@pytest.mark.parametrize("net, batch, loss_fn", [
    (model(4), data(), nn.CrossEntropyLoss()),
    (model(1, nn.Sigmoid()), (data()[0], (data()[1] % 2).float().unsqueeze(1)), nn.BCELoss()),
    (model(1), (data()[0], (data()[1] % 2).float().unsqueeze(1)), nn.BCEWithLogitsLoss()),
    (model(1), data(regression=True), nn.MSELoss()),
    (model(1), data(regression=True), nn.HuberLoss()),
])
def test_standard_losses_are_silent(net, batch, loss_fn):
    report, record = probe(net, batch, loss_fn)
    assert not report.findings
    inputs = [r["input"] for r in record["rows"]]
    assert inputs[0] == "as given" and "converged" in inputs and "degenerate" in inputs
    converged = min(r["loss"] for r in record["rows"] if r["input"] == "converged")
    assert converged <= min(r["loss"] for r in record["rows"])


def test_a_model_that_computes_its_own_loss_is_not_applicable():
    class Own(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(8, 1)

        def forward(self, x):
            return self.lin(x).pow(2).mean()

    torch.manual_seed(0)
    report = checkup(Own(), {"x": torch.randn(8, 8)}, probes=("loss-table",))
    record = next(p for p in report.sections["checkup"]["probes"] if p["name"] == "loss-table")
    assert record["status"] != "ran" and "own loss" in record.get("note", "")
