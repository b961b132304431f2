"""output-range-mismatch for regression losses written by hand: the targets are rebuilt from the
autograd graph of the loss (prediction - residual) and compared with what the op that made the
prediction can output. Broken: several ways of writing the loss and several bounding ops; healthy:
targets within the bound, a hand-written BCE, a rescaled sigmoid, an unbounded output."""

import pytest
import torch
from torch import nn

from traindoctor.judge.loss import flags
from traindoctor.measure.losses import bounded_residuals

torch.manual_seed(0)
X = torch.randn(64, 6)
HOT = (20 + 8 * X[:, :1]).clamp(0, 40)  # a temperature in [0, 40], (64, 1)


def head(last=None, outputs=1):
    return nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, outputs), *([last] if last else []))


def judge(loss):
    seen = bounded_residuals(loss)
    return flags([{**s, "step": 0, "location": {}} for s in seen]), seen


# ── broken: targets out of the prediction's reach ───────────────────────────
def test_sigmoid_squared_error_mean():
    found, _ = judge(((head(nn.Sigmoid())(X) - HOT) ** 2).mean())
    ev = found["output-range-mismatch"][0]
    assert ev["producer"] == "SigmoidBackward0" and ev["max"] == pytest.approx(float(HOT.max()), rel=1e-4)
    assert ev["residual"] == "(prediction - target) ** 2" and ev["share"] > 0.9


def test_tanh_absolute_error_target_first():
    y = 5 * torch.randn(64)
    pred = torch.tanh(head()(X)).squeeze(-1)  # a view between the bounded op and the difference
    found, _ = judge((y - pred).abs().sum() / 64)
    ev = found["output-range-mismatch"][0]
    assert ev["producer"] == "TanhBackward0" and ev["min"] == pytest.approx(float(y.min()), rel=1e-4)


def test_softmax_against_counts_squared_as_a_product_inside_a_regularized_sum():
    model = head(outputs=4)
    counts = torch.randint(0, 9, (64, 4)).float()  # counts where proportions were meant
    d = torch.softmax(model(X), dim=1) - counts
    loss = (d * d).mean() + 1e-4 * sum(p.pow(2).sum() for p in model.parameters())
    assert "output-range-mismatch" in judge(loss)[0]


def test_relu_output_with_standardized_targets_as_a_root_mean_square():
    y = (HOT - HOT.mean()) / HOT.std()
    loss = torch.sqrt(torch.mean((torch.relu(head()(X)) - y).pow(2)))
    ev = judge(loss)[0]["output-range-mismatch"][0]
    assert ev["producer"] == "ReluBackward0" and ev["low"] == 0.0


# ── healthy look-alikes ─────────────────────────────────────────────────────
def test_sigmoid_with_targets_in_0_1():
    y = torch.rand(64, 1)
    y[:8] = 0.0
    y[8:16] = 1.0  # the bound itself is reachable in the limit
    pred = head(nn.Sigmoid())(X)
    found, seen = judge(((pred - y) ** 2).mean())
    assert found == {} and seen[0]["target_outside"]["share"] == 0.0  # measured, and quiet
    bce = -(y * torch.log(pred) + (1 - y) * torch.log(1 - pred)).mean()
    assert judge(bce) == ({}, [])


def test_tanh_with_targets_in_minus_1_1():
    y = torch.rand(64, 1) * 2 - 1
    assert judge((torch.tanh(head()(X)) - y).abs().mean())[0] == {}


def test_unbounded_or_rescaled_outputs_on_the_same_targets():
    assert judge(((head()(X) - HOT) ** 2).mean()) == ({}, [])
    assert judge(((40 * head(nn.Sigmoid())(X) - HOT) ** 2).mean()) == ({}, [])


def test_difference_of_two_predictions_has_no_target():
    a, b = head(nn.Sigmoid()), head(nn.Sigmoid())
    assert judge(((a(X) - 30 * b(X)) ** 2).mean()) == ({}, [])


def test_freed_graph_is_unknown_not_an_error():
    loss = ((head(nn.Sigmoid())(X) - HOT) ** 2).mean()
    loss.backward()
    assert bounded_residuals(loss) == []


def test_binary_targets_in_half_precision_sit_on_the_bound():
    y = (torch.rand(64, 1) > 0.5).to(torch.bfloat16)  # exactly 0 and 1: rebuilt with bfloat16 rounding
    pred = torch.sigmoid(head()(X).to(torch.bfloat16))
    found, seen = judge(((pred - y) ** 2).mean())
    assert found == {} and seen[0]["target_outside"]["share"] == 0.0
    far = (HOT / 10).to(torch.bfloat16)  # up to 4: out of reach however coarse the rounding
    assert "output-range-mismatch" in judge(((pred - far) ** 2).mean())[0]
