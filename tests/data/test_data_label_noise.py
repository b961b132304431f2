"""Label noise: flipped labels found by k-NN disagreement (no model) and by confident learning (a model's
out-of-sample probabilities); clean labels on separated, overlapping and curved classes stay silent."""

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import codes, validate
from traindoctor.data import audit_data


def blobs(n, d, classes, std, seed):
    r = np.random.default_rng(seed)
    centers = r.normal(0, 4, (classes, d))
    y = r.integers(0, classes, n)
    return centers[y] + r.normal(0, std, (n, d)), y


def moons(n, seed):
    r = np.random.default_rng(seed)
    y = r.integers(0, 2, n)
    t = r.uniform(0, np.pi, n)
    x = np.stack([np.cos(t) + y, np.sin(t) * (1 - 2 * y) + 0.5 * y], 1) + r.normal(0, 0.15, (n, 2))
    return x, y


def flipped(y, share, seed):
    r = np.random.default_rng(seed)
    k = y.max() + 1
    flip = r.random(len(y)) < share
    return np.where(flip, (y + r.integers(1, k, len(y))) % k, y)


# three shapes: a table with text labels, a dict of tensors, a numpy dict of two curved classes
def as_table(x, y):
    return pd.DataFrame({**{f"f{j}": x[:, j] for j in range(x.shape[1])}, "label": np.array([f"c{v}" for v in y])})


def as_tensors(x, y):
    return {"x": torch.tensor(x, dtype=torch.float32), "label": torch.tensor(y)}


def as_arrays(x, y):
    return {"obs": x, "target": y}


SHAPES = [(as_table, lambda: blobs(3000, 5, 4, 1.0, 1)), (as_tensors, lambda: blobs(2000, 8, 6, 2.0, 2)),
          (as_arrays, lambda: moons(3000, 3))]


@pytest.mark.parametrize("make,data", SHAPES, ids=["table", "tensors", "moons"])
def test_flipped_labels_are_found_by_neighbours(make, data):
    x, y = data()
    report = validate(audit_data(make(x, flipped(y, 0.12, 5))))
    assert "label-noise" in codes(report)
    [f] = [f for f in report.findings if f.code == "label-noise"]
    assert "k-NN disagreement (an estimate" in f.observation
    assert report.sections["data"]["label_noise"]["train"]["judged"] == len(y)


@pytest.mark.parametrize("make,data", SHAPES + [(as_table, lambda: blobs(3000, 4, 4, 2.5, 4)),
                                                (as_arrays, lambda: blobs(150, 4, 3, 1.0, 6))],
                         ids=["table", "tensors", "moons", "overlapping", "small"])
def test_clean_labels_are_silent(make, data):
    x, y = data()
    report = audit_data(make(x, y))
    assert "label-noise" not in codes(report)
    assert report.sections["data"]["label_noise"]["train"]["share"] < 0.03


def test_suspects_are_named_by_id_and_the_result_is_deterministic():
    x, y = blobs(3000, 5, 4, 1.0, 1)
    data = {"id": np.arange(10_000, 13_000), "x": x, "label": flipped(y, 0.12, 5)}
    first, second = audit_data(data), audit_data(data)
    [f] = [f for f in first.findings if f.code == "label-noise"]
    assert all(10_000 <= i < 13_000 for i in f.evidence["suspects"])
    assert [g.observation for g in first.findings] == [g.observation for g in second.findings]


def probabilities(x, y_true, classes, seed):
    """Out-of-sample probabilities of a good model: mostly on the true class."""
    r = np.random.default_rng(seed)
    logits = r.normal(0, 1, (len(y_true), classes))
    logits[np.arange(len(y_true)), y_true] += 4
    p = np.exp(logits)
    return p / p.sum(1, keepdims=True)


@pytest.mark.parametrize("cleanlab", [False, True], ids=["own", "cleanlab"])
def test_confident_learning_with_probabilities(cleanlab, monkeypatch):
    if cleanlab:
        pytest.importorskip("cleanlab")
    else:
        import sys

        monkeypatch.setitem(sys.modules, "cleanlab", None)  # as if not installed
        monkeypatch.setitem(sys.modules, "cleanlab.filter", None)
    x, y = blobs(2000, 3, 3, 1.0, 7)
    probs = probabilities(x, y, 3, 8)
    noisy = audit_data({"x": x, "label": flipped(y, 0.1, 9), "p": probs}, probs="p")
    clean = audit_data({"x": x, "label": y, "p": probs}, probs="p")
    assert "label-noise" in codes(noisy) and "label-noise" not in codes(clean)
    method = noisy.sections["data"]["label_noise"]["train"]["method"]
    assert method.startswith("confident learning") and ("cleanlab)" in method) == cleanlab
    # the probabilities are a model's output, not a feature that leaks the label
    assert "feature-leakage" not in codes(clean)


def test_regression_targets_are_not_judged():
    x, _ = blobs(2000, 3, 3, 1.0, 1)
    report = audit_data({"x": x, "target": x[:, 0] * 2 + 0.1})
    assert "label_noise" not in report.sections["data"]
