"""The leakage tracer: one poisoned sample reaching other samples' outputs through batch statistics, a
training-mode BatchNorm or a cache — and per-sample models and pipelines left silent. Nothing of the
user's is changed: the model's weights, buffers and mode, a pipeline's cache, the random streams."""

import random

import numpy as np
import pytest
import torch
from torch import nn

from conftest import codes, validate
from traindoctor.data.leakage import trace_leakage


def mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 2))


def batch_normalised(x):
    return (x - x.mean(0)) / x.std(0)


def make_cached():
    cache = {}

    def pipeline(x):  # keyed by the batch size, not the batch: the first batch's mean serves every later one
        if len(x) not in cache:
            cache[len(x)] = x.mean(0)
        return x - cache[len(x)]

    return pipeline, cache


class RowCache:
    """Memoises per row position: the first batch's values are served to whatever sample comes next there."""

    def __init__(self):
        self.seen = {}

    def __call__(self, x):
        return np.stack([self.seen.setdefault(i, row * 2.0) for i, row in enumerate(x)])


class PerSampleLoss(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Linear(4, 1)

    def forward(self, x, y):
        return nn.functional.mse_loss(self.net(x).squeeze(1), y, reduction="none")


def x_np(n=12, d=3, seed=0):
    return np.random.default_rng(seed).normal(size=(n, d))


@pytest.mark.parametrize("target,batch", [
    (lambda: mlp().train(), lambda: torch.randn(16, 8)),
    (lambda: batch_normalised, lambda: x_np()),
    (lambda: make_cached()[0], lambda: x_np()),
    (lambda: RowCache(), lambda: x_np()),
    (lambda: (lambda x, y: nn.functional.mse_loss(batch_normalised(x).sum(1), y, reduction="none")),
     lambda: (torch.randn(10, 3), torch.randn(10))),
], ids=["train-mode-batchnorm", "batch-statistics", "cache-by-batch-size", "cache-by-position", "loss-terms"])
def test_a_poisoned_sample_that_reaches_others_is_found(target, batch):
    report = validate(trace_leakage(target(), batch()))
    assert codes(report) == ["cross-sample-leakage"]
    assert report.findings[0].severity == "error"


def test_a_cache_is_named_as_state_across_calls():
    report = trace_leakage(RowCache(), x_np())
    [f] = report.findings
    assert "kept state across calls" in f.observation and report.sections["leakage"]["nan"]["after_differs"] == [0]


@pytest.mark.parametrize("target,batch", [
    (lambda: mlp().eval(), lambda: torch.randn(16, 8)),
    (lambda: nn.Sequential(nn.Linear(8, 8), nn.Dropout(0.5), nn.Linear(8, 3)).train(), lambda: torch.randn(16, 8)),
    (lambda: (lambda x: (x - 1.0) / 2.0), lambda: x_np()),
    (lambda: PerSampleLoss(), lambda: (torch.randn(10, 4), torch.randn(10))),
    (lambda: (lambda batch: batch["x"] * batch["w"][:, None]), lambda: {"batch": {"x": x_np(), "w": np.ones(12)}}),
], ids=["eval-batchnorm", "train-mode-dropout", "per-sample-pipeline", "per-sample-loss", "dict-batch"])
def test_per_sample_computations_are_silent(target, batch):
    report = trace_leakage(target(), batch())
    assert codes(report) == []
    assert report.sections["leakage"]["nan"]["own_reached"]  # the poison did reach the sample's own output


def test_nothing_of_the_user_changes():
    model = mlp().train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    pipeline, cache = make_cached()
    x, batch = torch.randn(16, 8), x_np()
    kept = x.clone()
    torch.manual_seed(3), np.random.seed(3), random.seed(3)
    streams = torch.get_rng_state(), np.random.get_state()[1].copy(), random.getstate()
    trace_leakage(model, x)
    trace_leakage(pipeline, batch)
    assert model.training and all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert cache == {} and torch.equal(x, kept)
    assert torch.equal(torch.get_rng_state(), streams[0]) and (np.random.get_state()[1] == streams[1]).all()
    assert random.getstate() == streams[2]


def test_a_batch_of_one_is_refused():
    with pytest.raises(ValueError, match="at least 2 samples"):
        trace_leakage(lambda x: x, np.zeros((1, 3)))


def test_the_tracer_is_public():
    import traindoctor

    assert [f.code for f in traindoctor.trace_leakage(nn.BatchNorm1d(3).train(), torch.randn(8, 3)).findings] == \
        ["cross-sample-leakage"]
    assert traindoctor.trace_leakage(nn.BatchNorm1d(3).eval(), torch.randn(8, 3)).findings == []
