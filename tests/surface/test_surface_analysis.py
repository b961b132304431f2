"""`traindoctor.surface` on losses of differently shaped faults, each against healthy look-alikes that must
stay silent: dead zones, non-finite regions, imbalanced axes, saddles."""

import random

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import traindoctor
from traindoctor.surface import SurfaceError, analyze


def codes(report):
    return {f.code for f in report.findings}


def table(report, component=0):
    return {r["input"]: r for r in report.sections["surface"]["components"][component]["table"]}


# ── dead zones ───────────────────────────────────────────────────────────────

@pytest.mark.parametrize("loss, ranges", [
    (lambda pred: (pred.clamp(0, 1) - 2) ** 2, None),  # a clamp: flat at 4 below 0, lowest 1
    (lambda dot: -F.relu(dot), None),  # a ReLU on the objective: nothing below 0
    (lambda z: (torch.sigmoid(z) - 1) ** 2, {"z": (-30, 30)}),  # a saturated sigmoid under MSE
    (lambda a, b: F.relu(a) * (b - 1) + F.relu(-a) * 0.0, None),  # one factor switched off by a ReLU
])
def test_a_flat_region_above_the_lowest_loss_is_a_dead_zone(loss, ranges):
    report = analyze(loss, ranges=ranges)
    assert "loss-dead-zone" in codes(report)
    assert report.exit_code == 0  # a warning: the region may not be where the model lives


def test_a_product_is_dead_at_zero_in_the_table():
    report = analyze(lambda pos, neg: -(pos * neg), ranges={"pos": (-1, 1), "neg": (-1, 1)})
    assert table(report)["zero"]["flags"] == ["dead"]
    assert "zero (pos=0, neg=0)" in next(f for f in report.findings if f.code == "loss-dead-zone").observation


@pytest.mark.parametrize("loss", [
    lambda margin: F.relu(1 - margin),  # a hinge: flat only where it is satisfied, at its lowest value
    lambda x: (x - 1) ** 2,
    lambda x: (x - 0.5).abs(),
    lambda x: F.huber_loss(x, torch.tensor(1.0)),
    lambda a, b: F.relu(1 - a) + F.relu(1 - b),  # flat where both are satisfied: the lowest value
])
def test_flat_only_at_the_lowest_value_is_healthy(loss):
    assert not analyze(loss).findings


# ── non-finite regions ───────────────────────────────────────────────────────

@pytest.mark.parametrize("loss, ranges, inputs", [
    (lambda p: -torch.log(p), {"p": (0, 1)}, None),
    (lambda p, y: -(y * torch.log(p) + (1 - y) * torch.log(1 - p)), {"p": (0, 1)}, {"y": 1.0}),  # 0 * log 0 at p = 1
    (lambda dx, dy: torch.sqrt(dx ** 2 + dy ** 2), None, None),  # the gradient of a distance at 0
    (lambda x: 1 / x, None, None),
])
def test_a_log_of_zero_or_a_division_is_a_nonfinite_region(loss, ranges, inputs):
    report = analyze(loss, ranges=ranges, inputs=inputs)
    assert "loss-nonfinite-region" in codes(report)


@pytest.mark.parametrize("loss, ranges, inputs", [
    (lambda p: -torch.log(p + 1e-7), {"p": (0, 1)}, None),
    (lambda logit, y: F.binary_cross_entropy_with_logits(logit, y), {"logit": (-50, 50)}, {"y": 1.0}),
    (lambda dx, dy: torch.sqrt(dx ** 2 + dy ** 2 + 1e-8), None, None),
    (lambda pos, neg: F.cross_entropy(torch.stack([pos, neg], -1), torch.zeros_like(pos, dtype=torch.long)), None, None),
])
def test_stable_forms_stay_finite(loss, ranges, inputs):
    assert not analyze(loss, ranges=ranges, inputs=inputs).findings


# ── imbalanced axes ──────────────────────────────────────────────────────────

@pytest.mark.parametrize("loss", [
    lambda x, y: 5000 * (x - 1) ** 2 + (y + 1) ** 2,
    lambda box, logit: 1000 * (box - 0.5).abs() + F.softplus(-logit),  # a regression term 1000x a classification term
    lambda recon, kl: (recon - 1) ** 2 + 1e-4 * kl ** 2,
])
def test_one_axis_1000x_the_other_is_imbalanced(loss):
    report = analyze(loss)
    found = next(f for f in report.findings if f.code == "loss-axes-imbalanced")
    assert found.evidence["ratio"] >= 1000


@pytest.mark.parametrize("loss", [
    lambda x, y: (x - 1) ** 2 + (y + 1) ** 2,
    lambda x, y: (x - 1) ** 2 + 0.1 * (y + 1) ** 2,  # a deliberate 10x weight
    lambda box, logit: (box - 0.5).abs() + F.softplus(-logit),
])
def test_comparable_axes_are_balanced(loss):
    assert not analyze(loss).findings


# ── saddles ──────────────────────────────────────────────────────────────────

@pytest.mark.parametrize("loss", [
    lambda a, b: -(a * b),
    lambda u, v: (u * v - 1) ** 2,  # a rank-one factorisation: a saddle at the origin
    lambda x, y: x ** 2 - y ** 2,
])
def test_a_product_has_a_saddle(loss):
    report = analyze(loss)
    saddle = next(f for f in report.findings if f.code == "loss-saddle")
    assert saddle.evidence["at"] == {k: 0.0 for k in saddle.evidence["at"]}
    assert "origin" in saddle.observation


@pytest.mark.parametrize("loss", [
    lambda x, y: (x - 1) ** 2 + (y + 1) ** 2,
    lambda x, y: torch.log(torch.exp(x) + torch.exp(y)) - x,  # cross-entropy over two logits: no stationary point
    lambda x, y: (x + y) ** 2,  # a valley, flat along it: no negative curvature
])
def test_minima_and_valleys_are_not_saddles(loss):
    assert "loss-saddle" not in codes(analyze(loss))


# ── the call ─────────────────────────────────────────────────────────────────

def test_the_grid_is_vectorised_and_one_backward_matches_each_cell():
    report = analyze(lambda x, y: x ** 2 * y, n=5)
    grid = report.sections["surface"]["components"][0]["grid"]
    x, y = np.meshgrid(*grid["coords"], indexing="ij")
    assert report.sections["surface"]["components"][0]["vectorised"]
    assert np.allclose(grid["grads"]["x"], 2 * x * y) and np.allclose(grid["grads"]["y"], x ** 2)


def test_a_loss_vmap_cannot_run_is_gridded_cell_by_cell():
    def branchy(x):  # data-dependent control flow
        return x ** 2 if x > 0 else -x

    section = analyze(branchy, n=7).sections["surface"]["components"][0]
    assert section["vectorised"] is False
    assert np.allclose(section["grid"]["grads"]["x"], [-1, -1, -1, -1, 2, 4, 6])


def test_components_fixed_inputs_and_named_points():
    target = torch.tensor([0.0, 1.0, 2.0])
    kept = target.clone()
    report = analyze({"mse": lambda shift, target: ((target + shift - target.mean()) ** 2).mean(),
                      "hinge": lambda shift: F.relu(1 - shift)},
                     inputs={"target": target, "shift": 0.25}, points={"margin": {"shift": 1.0}})
    assert torch.equal(target, kept)
    names = [c["name"] for c in report.sections["surface"]["components"]]
    assert names == ["mse", "hinge"]
    rows = table(report, 1)
    assert rows["as given"]["values"] == {"shift": 0.25} and rows["margin"]["loss"] == 0.0
    assert report.sections["surface"]["components"][0]["fixed"] == ["target"]


def test_no_random_stream_moves_and_the_report_repeats():
    random.seed(1), np.random.seed(1), torch.manual_seed(1)
    before = (random.random(), np.random.rand(), torch.rand(1))
    random.seed(1), np.random.seed(1), torch.manual_seed(1)
    first = analyze(lambda x, y: (x * y - 1) ** 2 + torch.rand(()) * 0)
    second = traindoctor.surface(lambda x, y: (x * y - 1) ** 2 + torch.rand(()) * 0)
    assert (random.random(), np.random.rand(), torch.rand(1)) == before
    assert [f.to_dict() for f in first.findings] == [f.to_dict() for f in second.findings]


@pytest.mark.parametrize("call, message", [
    (lambda: analyze(lambda x, y, z: x), "one or two"),
    (lambda: analyze(lambda x: x, axes=["y"]), "no argument y"),
    (lambda: analyze(lambda x: x, ranges={"x": (1, 1)}), "low < high"),
    (lambda: analyze(lambda x, target: x, axes=["x"]), "no value for target"),
])
def test_usage_errors_say_what_to_pass(call, message):
    with pytest.raises(SurfaceError, match=message):
        call()


def test_a_loss_that_raises_everywhere_could_not_be_checked():
    def broken(x):
        raise RuntimeError("boom")

    report = analyze(broken)
    assert report.exit_code == 2 and "boom" in report.unchecked[0]
