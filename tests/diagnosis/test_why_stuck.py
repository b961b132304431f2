"""traindoctor.why_stuck: the seeds' decision table for a metric that will not move, on copies. A metric
blocked by a structural ceiling, one the loss cannot see, one held back by another loss term, and metrics that
move; the caller's model and random streams untouched."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import traindoctor
from conftest import validate


def accuracy(out, y):
    return (out.argmax(1) == y).float().mean()


def _data(n=128, d=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g)
    return x, (x[:, 0] + 0.5 * x[:, 1] > 0).long()


class Capped(nn.Module):
    """Class 1's logit is bounded below 0 (class 0's is 0) by construction: class 1 can never win the argmax."""
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 1))

    def forward(self, x):
        z1 = torch.tanh(self.body(x)) - 1.5
        return torch.cat([torch.zeros_like(z1), z1], dim=1)


class FrozenLastLayer(nn.Module):
    """The only trainable layer feeds a frozen readout that ignores it: the parameters cannot move the outputs."""
    def __init__(self):
        super().__init__()
        self.features = nn.Linear(8, 8)
        self.readout = nn.Linear(8, 2)
        self.readout.weight.requires_grad_(False)
        self.readout.bias.requires_grad_(False)
        with torch.no_grad():
            self.readout.weight.zero_()
            self.readout.bias.copy_(torch.tensor([0.3, 0.0]))

    def forward(self, x):
        return self.readout(torch.relu(self.features(x)))


def test_a_metric_capped_by_the_model_is_a_structural_ceiling():
    torch.manual_seed(0)
    x, y = _data()
    report = validate(traindoctor.why_stuck(Capped(), (x, y), accuracy, F.cross_entropy))
    assert [f.code for f in report.findings] == ["metric-structural-ceiling"], report.findings
    f = report.findings[0]
    assert "training steps" in f.observation and f.hypotheses and all(h.check for h in f.hypotheses)


def test_parameters_that_cannot_reach_the_outputs_are_a_structural_ceiling():
    torch.manual_seed(0)
    x, y = _data()
    report = traindoctor.why_stuck(FrozenLastLayer(), (x, y), accuracy, F.cross_entropy)
    assert [f.code for f in report.findings] == ["metric-structural-ceiling"], report.findings


def test_a_loss_that_does_not_see_the_metric_is_disconnected():
    """The loss rewards confidence in whatever class is predicted (an entropy minimiser): it falls while the
    accuracy, which needs the labels, stays."""
    torch.manual_seed(0)
    x, y = _data()
    net = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))

    def entropy(out, _):
        return -(out.softmax(1) * out.log_softmax(1)).sum(1).mean()
    report = traindoctor.why_stuck(net, (x, y), accuracy, entropy)
    assert [f.code for f in report.findings] == ["metric-loss-disconnected"], report.findings


def test_a_saturated_loss_is_disconnected():
    torch.manual_seed(0)
    x, y = _data()
    net = nn.Sequential(nn.Linear(8, 2))
    with torch.no_grad():
        net[0].weight.mul_(500)

    def squashed_mse(out, t):  # MSE on saturated sigmoids: no gradient where the samples are wrong
        return F.mse_loss(torch.sigmoid(out[:, 1] - out[:, 0]), t.float())
    report = traindoctor.why_stuck(net, (x, y), accuracy, squashed_mse)
    assert report.findings[0].code in ("metric-loss-disconnected", "metric-structural-ceiling"), report.findings


@pytest.mark.parametrize("weight", [3.0, 10.0])
def test_a_term_that_holds_the_metric_back_is_named(weight):
    """A class-prior term pulls every prediction to class 0, where the model starts."""
    torch.manual_seed(0)
    x, y = _data()
    net = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))
    with torch.no_grad():
        net[2].bias.copy_(torch.tensor([3.0, 0.0]))
    terms = {"ce": F.cross_entropy, "prior": lambda out, _: weight * F.cross_entropy(out, torch.zeros(len(out), dtype=torch.long))}
    report = traindoctor.why_stuck(net, (x, y), accuracy, loss_terms=terms, optimizer=lambda p: torch.optim.Adam(p, lr=1e-2))
    codes = [f.code for f in report.findings]
    assert codes == ["metric-competing-losses"], (codes, report.sections["why_stuck"]["trained"])
    assert "`prior`" in report.findings[0].observation


@pytest.mark.parametrize("shape", ["mlp-classifier", "linear-classifier", "regression-r2"])
def test_a_metric_that_moves_is_said_to_move(shape):
    torch.manual_seed(0)
    x, y = _data()
    if shape == "regression-r2":
        target = x[:, :1] * 2 - x[:, 1:2]
        net = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 1))

        def r2(out, t):
            return 1 - ((out - t) ** 2).sum() / ((t - t.mean()) ** 2).sum()
        report = traindoctor.why_stuck(net, (x, target), r2, F.mse_loss, optimizer=lambda p: torch.optim.Adam(p, lr=1e-2))
    else:
        net = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2)) if shape == "mlp-classifier" else nn.Linear(8, 2)
        report = traindoctor.why_stuck(net, (x, y), accuracy, F.cross_entropy, optimizer=lambda p: torch.optim.SGD(p, lr=0.5))
    assert [f.code for f in report.findings] == ["metric-moves"], (report.findings, report.sections["why_stuck"]["trained"])
    assert report.findings[0].severity == "info"


def test_the_callers_model_and_random_streams_are_untouched():
    torch.manual_seed(0)
    x, y = _data()
    net = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))
    before = {k: v.clone() for k, v in net.state_dict().items()}
    state = torch.get_rng_state()
    traindoctor.why_stuck(net, (x, y), accuracy, F.cross_entropy)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert torch.equal(state, torch.get_rng_state()) and all(p.grad is None for p in net.parameters())


def test_no_loss_is_a_usage_error():
    x, y = _data()
    with pytest.raises(ValueError, match="loss_fn"):
        traindoctor.why_stuck(nn.Linear(8, 2), (x, y), accuracy)


def test_a_metric_the_parameter_steps_move_is_no_ceiling():
    """Training the copy left the metric where it was, but a step along the loss gradient moved it: the
    training was too short or too slow, not blocked."""
    from traindoctor.judge.stuck import verdict

    m = {"higher_is_better": True, "metric": 0.5, "loss": 1.0, "loss_grad_norm": 1.0, "steps": 50,
         "outputs": [{"loss": 0.8, "metric": 0.7}], "parameters": [{"metric": 0.5}, {"metric": 0.62}],
         "trained": {"all": 0.5}}
    assert [f.code for f in verdict(m)] == ["metric-moves"]
    m["parameters"] = [{"metric": 0.5}, {"metric": 0.5}]
    assert [f.code for f in verdict(m)] == ["metric-structural-ceiling"]


def test_the_report_shows_the_measurements_behind_the_verdict():
    from traindoctor.render.base import RenderOptions
    from traindoctor.render.html import render as html
    from traindoctor.render.text import render as text

    torch.manual_seed(0)
    x, y = torch.randn(64, 6), torch.randint(0, 2, (64,))
    report = traindoctor.why_stuck(nn.Linear(6, 2), (x, y), lambda out, t: (out.argmax(1) == t).float().mean().item(),
                                   loss_fn=F.cross_entropy)
    from html import escape

    shown, page = text(report, RenderOptions(width=120)), html(report, RenderOptions())
    for row in ("outputs moved along the loss's descent", "parameters stepped along the loss gradient", "copies trained"):
        assert row in shown and escape(row) in page
