"""Near duplicates (rows equal once numbers are rounded) and the shift of categorical columns: each on
three differently shaped broken datasets and on healthy look-alikes."""

import numpy as np
import pandas as pd

from conftest import validate
from traindoctor.data import audit_data


def rng(seed=0):
    return np.random.default_rng(seed)


def found(report, code):
    return [f for f in validate(report).findings if f.code == code]


def table(n=4000, seed=0):
    r = rng(seed)
    return pd.DataFrame({"x1": r.normal(size=n), "x2": r.lognormal(3, 1, n), "x3": r.uniform(-1, 1, n),
                         "label": r.integers(0, 3, n)})


# ── near duplicates ───────────────────────────────────────────────────────────────────────────────

def test_rows_copied_through_float32_are_near_duplicates():
    df = table()
    copies = df.iloc[:200].astype({"x1": np.float32, "x2": np.float32, "x3": np.float32}).astype(float)
    report = audit_data(pd.concat([df, copies], ignore_index=True))
    f = found(report, "near-duplicates")[0]
    assert f.evidence["repeats"] >= 195 and f.evidence["exact_share"] == 0 and not found(report, "duplicate-rows")


def test_reexported_rows_with_new_ids_and_printed_digits():
    r = rng(1)
    obs = r.normal(size=(3000, 5))
    again = np.round(obs[:150], 6)  # a CSV printed with 6 decimals, given new ids
    data = {"id": np.arange(3150), "obs": np.vstack([obs, again]), "y": np.concatenate([r.normal(size=3000),
                                                                                      np.zeros(150)])}
    data["y"][3000:] = data["y"][:150]
    # a value near zero rounded to 6 decimals moves by more than a rounding step: most, not all, pairs are seen
    assert found(audit_data(data), "near-duplicates")[0].evidence["repeats"] >= 120


def test_eval_rows_near_copies_of_training_rows_overlap():
    df = table(seed=2)
    val = df.iloc[:300].copy()
    val[["x1", "x2", "x3"]] *= 1 + rng(2).normal(0, 1e-8, (300, 3))  # jitter of a re-computation
    report = audit_data(df, pd.concat([val, table(700, seed=3)], ignore_index=True))
    f = found(report, "split-overlap")[0]
    assert f.evidence["by"] == "near rows" and f.evidence["rows"] >= 290 and report.exit_code == 1
    images = rng(4).random((600, 1, 6, 6))
    report = audit_data({"x": images[:500]}, {"x": images[450:].astype(np.float32)})
    assert found(report, "split-overlap")[0].evidence["by"] == "near rows"


def test_exact_copies_are_reported_once():
    df = table(seed=5)
    report = audit_data(pd.concat([df, df.iloc[:300]]), df.iloc[:300])
    assert found(report, "duplicate-rows") and not found(report, "near-duplicates")
    assert [f.evidence["by"] for f in found(report, "split-overlap")] == ["rows"]


def test_coarse_and_continuous_data_have_no_near_duplicates():
    r = rng(6)
    coarse = pd.DataFrame({"rooms": r.integers(1, 6, 4000), "floor": r.integers(0, 10, 4000),
                           "score": r.normal(size=4000).round(1), "target": r.normal(size=4000)})
    assert not found(audit_data(coarse), "near-duplicates")
    close = table(seed=7)  # neighbours of a dense sample: close, not equal
    assert not found(audit_data(close, table(1000, seed=8)), "near-duplicates")
    assert not found(audit_data(close, table(1000, seed=8)), "split-overlap")
    counts = pd.DataFrame({"a": r.integers(0, 2, 4000), "b": r.integers(0, 3, 4000), "label": r.integers(0, 2, 4000)})
    assert not found(audit_data(counts), "near-duplicates")


# ── categorical shift ─────────────────────────────────────────────────────────────────────────────

def with_site(n, shares, seed):
    df = table(n, seed)
    df["site"] = rng(seed + 100).choice(["north", "south", "east", "west"], n, p=shares)
    return df


def test_category_shares_that_move_are_shift():
    report = audit_data(with_site(4000, [0.4, 0.3, 0.2, 0.1], 1), with_site(1500, [0.1, 0.2, 0.3, 0.4], 2))
    f = found(report, "train-eval-shift")[0]
    row = f.evidence["dims"][0]
    assert row["dim"] == "site" and row["test"] == "chi2" and row["ks"] > 0.3 and row["cramers_v"] > 0.2
    # a class of vehicles seen in evaluation only
    train = {"speed": rng(3).normal(10, 3, 3000), "agent": np.array(["car"] * 2700 + ["truck"] * 300, dtype=object)}
    val = {"speed": rng(4).normal(10, 3, 1000), "agent": np.array(["car"] * 500 + ["bus"] * 500, dtype=object)}
    assert found(audit_data(train, val), "train-eval-shift")[0].evidence["dims"][0]["dim"] == "agent"
    # weather per episode: the evaluation's episodes all from rain
    eps = np.repeat(np.arange(60), 50)
    weather = np.where(eps % 3 == 0, "rain", "sun").astype(object)
    eval_eps = np.repeat(np.arange(100, 120), 50)
    report = audit_data({"episode": eps, "weather": weather, "v": rng(5).normal(size=3000)},
                        {"episode": eval_eps, "weather": np.array(["rain"] * 1000, dtype=object),
                         "v": rng(6).normal(size=1000)})
    assert found(report, "train-eval-shift")[0].evidence["dims"][0]["dim"] == "weather"


def test_same_category_shares_and_unique_names_are_not_shift():
    for n_eval in (200, 1500):
        assert not found(audit_data(with_site(4000, [0.4, 0.3, 0.2, 0.1], 1),
                                    with_site(n_eval, [0.4, 0.3, 0.2, 0.1], 9)), "train-eval-shift")
    names = table(seed=10).assign(file=[f"img_{i}.png" for i in range(4000)])  # unique per row: not categories
    val = table(1000, seed=11).assign(file=[f"val_{i}.png" for i in range(1000)])
    assert not found(audit_data(names, val), "train-eval-shift")
    # 10 held-out episodes whose weather differs by chance: 10 samples, not 500
    eps = np.repeat(np.arange(60), 50)
    r = rng(12)
    ep_weather = r.choice(["rain", "sun"], 80)
    report = audit_data({"episode": eps, "weather": ep_weather[eps].astype(object)},
                        {"episode": np.repeat(np.arange(60, 70), 50),
                         "weather": ep_weather[np.repeat(np.arange(60, 70), 50)].astype(object)})
    assert not found(report, "train-eval-shift")
