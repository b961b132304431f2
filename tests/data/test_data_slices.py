"""Evaluation slices: the metric per value of a named column, worst first, next to the aggregate; a slice
that does much worse is a finding, a small or mildly worse one is listed only."""

import numpy as np
import pandas as pd
import pytest

from conftest import codes, validate
from traindoctor.data import DataError, audit_data


def driving(n=3000, seed=0, ped_factor=2.0, ped_share=0.05):
    r = np.random.default_rng(seed)
    agent = r.choice(["car", "truck", "pedestrian"], n, p=[0.95 - ped_share, 0.05, ped_share]).astype(object)
    ade = r.gamma(2.0, 0.5, n) * np.where(agent == "pedestrian", ped_factor, 1.0)
    return pd.DataFrame({"speed": r.gamma(3, 4, n), "agent": agent, "ade": ade})


def classified(n=3000, seed=1, bad_site_accuracy=0.55):
    r = np.random.default_rng(seed)
    site = r.integers(0, 6, n)
    label = r.integers(0, 3, n)
    right = r.random(n) < np.where(site == 5, bad_site_accuracy, 0.92)
    pred = np.where(right, label, (label + 1) % 3)
    return {"x": r.normal(size=(n, 2)), "site": site, "label": label, "pred": pred}


def regression(n=3000, seed=2, fast_noise=3.0):
    r = np.random.default_rng(seed)
    speed = r.uniform(0, 30, n)
    target = r.normal(size=n)
    noise = np.where(speed > 24, fast_noise, 1.0) * r.normal(size=n) * 0.3
    return {"speed": speed, "target": target, "prediction": target + noise}


@pytest.mark.parametrize("data,roles,worst", [
    (lambda: driving(), {"slice": "agent", "metric": "ade"}, "pedestrian"),
    (lambda: classified(), {"slice": "site", "prediction": "pred"}, "5"),
    (lambda: regression(), {"slice": "speed", "prediction": "prediction"}, "]"),  # the last quintile of speed
], ids=["metric-column", "accuracy", "regression-speed-bins"])
def test_a_slice_that_does_much_worse_is_found(data, roles, worst):
    report = validate(audit_data(data(), **roles))
    assert "slice-underperforms" in codes(report)
    column = roles["slice"]
    table = report.sections["data"]["slices"]["train"][column]
    assert worst in table["slices"][0]["value"] and table["slices"][0]["underperforms"]
    assert all("rows" in s or "sampled" in s for s in table["slices"])


@pytest.mark.parametrize("data,roles", [
    (lambda: driving(ped_factor=1.0), {"slice": "agent", "metric": "ade"}),  # every slice alike
    (lambda: driving(ped_factor=3.0, ped_share=0.004), {"slice": "agent", "metric": "ade"}),  # worse but tiny
    (lambda: driving(n=20000, ped_factor=1.1), {"slice": "agent", "metric": "ade"}),  # real but small difference
    (lambda: classified(bad_site_accuracy=0.92), {"slice": "site", "prediction": "pred"}),
    (lambda: regression(fast_noise=1.0), {"slice": "speed", "prediction": "prediction"}),
], ids=["alike", "tiny-slice", "small-gap", "accuracy-alike", "regression-alike"])
def test_healthy_slices_are_listed_not_found(data, roles):
    report = audit_data(data(), **roles)
    assert "slice-underperforms" not in codes(report)
    assert report.sections["data"]["slices"]["train"][roles["slice"]]["slices"]


def test_tiny_slice_is_listed_as_too_small():
    report = audit_data(driving(ped_factor=3.0, ped_share=0.004), slice="agent", metric="ade")
    ped = next(s for s in report.sections["data"]["slices"]["train"]["agent"]["slices"] if s["value"] == "pedestrian")
    assert ped["judged"] is False and ped["rows"] < 30


def test_a_prediction_is_not_a_leaking_feature_and_evaluation_splits_are_sliced():
    report = audit_data(classified(seed=3), eval=classified(seed=4), slice="site", prediction="pred")
    assert "feature-leakage" not in codes(report)
    assert set(report.sections["data"]["slices"]) == {"train", "eval"}
    assert report.sections["data"]["roles"]["evaluation"]["prediction"] == "pred"


def test_a_slice_column_that_does_not_exist_is_a_usage_error():
    with pytest.raises(DataError, match="no column named maneuver"):
        audit_data(driving(), slice="maneuver", metric="ade")
