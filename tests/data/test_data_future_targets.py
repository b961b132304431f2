"""Features correlated more with future targets than with past ones (generic `future-feature`): three
differently shaped broken datasets and healthy look-alikes."""

import numpy as np
import pandas as pd

from conftest import validate
from traindoctor.data import audit_data


def ar(n, seed, phi=0.9):
    r = np.random.default_rng(seed)
    y = np.zeros(n)
    for i in range(1, n):
        y[i] = phi * y[i - 1] + r.normal()
    return y


def shift(v, k):
    """v_{t+k} (NaN past the end)."""
    out = np.full(len(v), np.nan)
    if k > 0:
        out[:-k] = v[k:]
    else:
        out[-k:] = v[:len(v) + k]
    return out


def future(report):
    return [f for f in validate(report).findings if f.code == "future-feature"]


def test_a_forecast_built_from_the_future_load():
    y = ar(3000, 1)
    r = np.random.default_rng(1001)  # not the target's own innovations: those are its future
    df = pd.DataFrame({"time": np.arange(3000.0), "sensor": 0.5 * y + r.normal(0, 1, 3000), "target": y,
                       "forecast": shift(y, 4) + r.normal(0, 1, 3000)}).dropna()
    f = future(audit_data(df))[0]
    row = f.evidence["features"][0]
    assert row["feature"] == "forecast" and row["k"] == 4 and row["corr"] > row["persistence"]


def test_a_vector_feature_holding_the_next_actions_of_each_episode():
    r = np.random.default_rng(2)
    eps, steps = 40, 80
    action = np.concatenate([ar(steps, 100 + e, 0.8) for e in range(eps)])
    ahead = np.concatenate([shift(action[e * steps:(e + 1) * steps], 2) for e in range(eps)])
    obs = np.column_stack([r.normal(size=eps * steps), np.nan_to_num(ahead) + r.normal(0, 0.2, eps * steps)])
    keep = np.isfinite(ahead)
    data = {"episode": np.repeat(np.arange(eps), steps)[keep], "obs": obs[keep], "y": action[keep]}
    row = future(audit_data(data))[0].evidence["features"][0]
    assert row["feature"] == "obs[1]" and row["k"] == 2


def test_a_trending_target_leaked_through_its_changes():
    r = np.random.default_rng(3)
    walk = np.cumsum(r.normal(size=4000))
    tip = shift(walk, 3) + r.normal(0, 0.3, 4000)  # the walk 3 hours on, without the slow cycle of the price
    df = pd.DataFrame({"timestamp": pd.date_range("2022-01-01", periods=4000, freq="h").astype(str),
                       "price": walk + 50 * np.sin(np.arange(4000) / 300), "tip": tip}).dropna()
    row = future(audit_data(df, target="price"))[0].evidence["features"][0]
    assert row["feature"] == "tip" and row["on"] == "changes" and row["k"] == 3
    pure = df.assign(price=df["price"] - 50 * np.sin(df.index.to_numpy() / 300))  # a plain walk: the levels show it
    assert future(audit_data(pure, target="price"))[0].evidence["features"][0]["k"] == 3


def test_past_present_and_causes_are_silent():
    y = ar(3000, 5)
    r = np.random.default_rng(1005)
    df = pd.DataFrame({"time": np.arange(3000.0), "target": y,
                       "reported": shift(y, -4) + r.normal(0, 1, 3000),          # the load reported late
                       "now": y + r.normal(0, 0.3, 3000),                        # a good sensor of the present
                       "avg": pd.Series(y).rolling(5, min_periods=1).mean()}).dropna()
    assert not future(audit_data(df))
    # a cause: u_t drives y_{t+1}; it correlates with the future, but less than the target's own present does
    u = r.normal(size=3000)
    z = np.zeros(3000)
    for i in range(1, 3000):
        z[i] = 0.9 * z[i - 1] + 0.5 * u[i - 1] + r.normal(0, 0.5)
    assert not future(audit_data(pd.DataFrame({"time": np.arange(3000.0), "throttle": u, "target": z})))
    # no time or episode order: rows are not a series
    shuffled = pd.DataFrame({"forecast": shift(y, 4), "target": y}).dropna().sample(frac=1.0, random_state=0)
    assert not future(audit_data(shuffled.reset_index(drop=True)))


def test_a_forecast_from_the_future_in_a_series_longer_than_the_sample():
    n = 40_000  # one series, judged on stretches of consecutive rows
    y = ar(n, 5)
    r = np.random.default_rng(1005)
    df = pd.DataFrame({"time": np.arange(float(n)), "sensor": 0.5 * y + r.normal(0, 1, n), "target": y,
                       "forecast": shift(y, 3) + r.normal(0, 1, n)})
    assert [row["feature"] for row in future(audit_data(df.dropna()))[0].evidence["features"]] == ["forecast"]
    df["forecast"] = shift(y, -3) + r.normal(0, 1, n)  # a forecast from the past: silent
    assert future(audit_data(df.dropna())) == []
