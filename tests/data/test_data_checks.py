"""The generic data checks: each on three differently shaped broken datasets (a table, a dict of tensors,
image-like or vector arrays) and on healthy look-alikes that must stay silent."""

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import codes, validate
from traindoctor.data import audit_data

N = 5000


def rng(seed=0):
    return np.random.default_rng(seed)


def audit(train, eval=None, **roles):
    report = validate(audit_data(train, eval, **roles))
    for f in report.findings:  # each check runs once: nothing is folded into itself
        assert f.observation not in [seen["observation"] for seen in f.evidence.get("also_seen", [])]
    return report


def found(report, code):
    return [f for f in report.findings if f.code == code]


def table(n=N, seed=0, **extra):
    r = rng(seed)
    df = pd.DataFrame({"x1": r.normal(size=n), "x2": r.uniform(-1, 1, n), "x3": r.gamma(2.0, size=n),
                       "label": r.integers(0, 3, n)})
    for k, v in extra.items():
        df[k] = v
    return df


# ── healthy data: silent everywhere ───────────────────────────────────────────────────────────────

def healthy_skewed():
    """Real features with heavy tails, zero inflation, caps, discrete values and rare flags."""
    r = rng(1)
    counts = r.poisson(3, N) * (r.random(N) > 0.4)  # zero-inflated counts
    price = np.minimum(r.lognormal(12, 0.6, N), np.quantile(r.lognormal(12, 0.6, N), 0.95))  # capped at the top
    return pd.DataFrame({"income": r.lognormal(10, 1, N), "ret": r.standard_t(3, N), "wait": r.exponential(1, N),
                         "counts": counts, "price": price, "rating": r.integers(1, 6, N),
                         "flag": (r.random(N) < 0.0005).astype(float), "signed": r.integers(-1, 2, N),
                         "target": r.normal(size=N)})


@pytest.mark.parametrize("make", [
    lambda: (table(), table(N // 4, seed=9)),
    lambda: (healthy_skewed(), None),
    lambda: ({"x": torch.randn(2000, 3, 8, 8), "y": torch.randint(0, 10, (2000,))},
             {"x": torch.randn(500, 3, 8, 8), "y": torch.randint(0, 10, (500,))}),
    # a flattened image with constant border pixels: pooled, not 784 features
    lambda: ({"pixels": np.pad(rng(2).integers(0, 255, (1000, 20, 20)), ((0, 0), (4, 4), (4, 4))).reshape(1000, -1),
              "label": rng(3).integers(0, 10, 1000)}, None),
], ids=["table-with-eval", "skewed-real-features", "tensors-with-eval", "flattened-images"])
def test_healthy_data_is_silent(make):
    train, eval = make()
    report = audit(train, eval)
    assert codes(report) == [] and report.exit_code == 0, [f.observation for f in report.findings]


# ── constant dimensions ───────────────────────────────────────────────────────────────────────────

def test_constant_dimensions():
    df = table(const=7.0, near=1000.0 + rng().normal(size=N) * 1e-10)
    f = found(audit(df), "constant-feature")[0]
    assert {d["dim"] for d in f.evidence["dims"]} == {"const", "near"}
    actions = torch.randn(N, 7)
    actions[:, 6] = 1.0  # a gripper never used
    assert found(audit({"obs": torch.randn(N, 4), "action": actions}), "constant-feature")[0].location["columns"] == ["action[6]"]
    images = rng().normal(size=(500, 3, 8, 8))
    images[:, 2] = 0.0  # a dead channel
    assert found(audit({"x": images}), "constant-feature")[0].location["columns"] == ["x[c2]"]


def test_rare_and_discrete_values_are_not_constant():
    df = table(flag=(rng(4).random(N) < 0.001).astype(float), small=rng(5).normal(size=N) * 1e-6)
    assert not found(audit(df), "constant-feature")


# ── outliers ──────────────────────────────────────────────────────────────────────────────────────

def test_outliers():
    x = rng().normal(size=N)
    x[:4] = 80.0
    f = found(audit(table(x1=x)), "data-outliers")[0]
    assert f.evidence["dims"][0]["dim"] == "x1" and f.evidence["dims"][0]["count"] == 4
    actions = rng(1).uniform(-np.pi, np.pi, (N, 7))
    actions[10:15, 3] = 50.0  # a joint angle of 50 among angles within ±3.14
    assert found(audit({"obs": rng(2).normal(size=(N, 4)), "action": torch.tensor(actions)}), "data-outliers")[0] \
        .location["columns"] == ["action[3]"]
    y = rng(3).normal(5.0, 1.0, N)
    y[[7, 70, 700]] = [-4e3, 5e3, 6e3]  # typos in a regression target
    assert found(audit({"x": rng(4).normal(size=(N, 3)), "y": y}), "data-outliers")[0].location["columns"] == ["y"]


def test_heavy_tails_are_not_outliers():
    r = rng(7)
    df = pd.DataFrame({"cauchy": r.standard_cauchy(N), "lognormal2": r.lognormal(0, 2, N), "t2": r.standard_t(2, N),
                       "pareto": r.pareto(1.5, N)})
    assert not found(audit(df), "data-outliers")


# ── sentinels ─────────────────────────────────────────────────────────────────────────────────────

def test_sentinel_codes():
    age = rng().normal(45, 12, N).round()
    age[rng(1).random(N) < 0.03] = -999
    f = found(audit(table(age=age)), "sentinel-values")[0]
    assert f.evidence["dims"][0]["value"] == -999
    days = rng(2).exponential(30, N).round(1)
    days[rng(3).random(N) < 0.05] = -1  # "never": negative in a quantity never negative
    assert found(audit({"days": torch.tensor(days), "y": torch.randn(N)}), "sentinel-values")[0].evidence["dims"][0]["value"] == -1
    positions = rng(4).normal(500, 50, (N, 2))
    positions[-500:] = 0.0  # zero padding among positions in a world frame
    f = found(audit({"position": positions}), "sentinel-values")[0]
    assert {d["dim"] for d in f.evidence["dims"]} == {"position[0]", "position[1]"}


def test_frequent_real_values_are_not_sentinels():
    assert not found(audit(healthy_skewed()), "sentinel-values")
    r = rng(6)
    visits = np.where(r.random(N) < 0.6, 0, r.geometric(0.3, N))  # mostly zero, then 1, 2, 3...
    gain = np.where(r.random(N) < 0.9, 0.0, r.lognormal(8, 1, N))
    assert not found(audit(pd.DataFrame({"visits": visits, "gain": gain})), "sentinel-values")


def test_a_code_among_mostly_zero_values():
    r = rng(8)
    gain = np.where(r.random(N) < 0.9, 0.0, r.lognormal(8, 1, N))
    gain[r.random(N) < 0.01] = 99999.0  # "unknown" in a column that is mostly 0
    assert found(audit(pd.DataFrame({"gain": gain, "y": r.normal(size=N)})), "sentinel-values")[0] \
        .evidence["dims"][0]["value"] == 99999.0


# ── missing values ────────────────────────────────────────────────────────────────────────────────

def test_missing_values(tmp_path):
    x = rng().normal(size=N)
    x[::50] = np.nan
    assert found(audit(table(x1=x)), "missing-values")[0].evidence["columns"][0]["missing"] == N // 50
    path = tmp_path / "train.csv"
    path.write_text("a,b\n" + "".join(f"{i},{'?' if i % 10 == 0 else i * 2}\n" for i in range(300)))
    f = found(audit(path), "missing-values")[0]
    assert f.evidence["columns"][0]["text"] == {"count": 30, "examples": ["?"]} and "'?'" in f.observation
    obs = torch.randn(N, 3)
    obs[5, 1] = float("inf")
    assert found(audit({"obs": obs}), "missing-values")[0].evidence["columns"][0]["infinite"] == 1


# ── target scales ─────────────────────────────────────────────────────────────────────────────────

def test_target_scale_mismatch():
    r = rng()
    y = np.stack([r.normal(0, 300, N), r.normal(0, 0.5, N)], 1)  # metres vs radians
    f = found(audit({"x": r.normal(size=(N, 3)), "target": y}), "target-scale-mismatch")[0]
    assert f.evidence["ratio"] > 100
    df = table(pos=r.normal(0, 1000, N), heading=r.normal(0, 1, N))
    assert found(audit(df, target="pos,heading"), "target-scale-mismatch")
    assert found(audit({"obs": torch.randn(N, 4), "action": torch.tensor(y)}), "target-scale-mismatch")
    assert f.severity == "warning"
    mm = np.stack([np.round(r.normal(0, 3000, N)), r.normal(0, 0.5, N)], 1)  # whole millimetres, many values
    assert found(audit({"x": r.normal(size=(N, 3)), "target": mm}), "target-scale-mismatch")[0].severity == "warning"


def test_target_scale_of_integer_codes_is_said_not_alarmed():
    # action tokens 0..255 next to continuous dimensions: trained as classes, their spread is no scale
    r = rng()
    tokens = np.searchsorted(np.linspace(-1, 1, 255), np.tanh(r.normal(size=N))).astype(float)
    for y in (np.stack([tokens, r.normal(0, 0.05, N)], 1),
              np.stack([r.normal(0, 0.01, N), r.normal(0, 0.02, N), r.integers(0, 64, N).astype(float)], 1)):
        f = found(audit({"obs": r.normal(size=(N, 3)), "action": y}), "target-scale-mismatch")[0]
        assert f.severity == "info" and f.evidence["codes"] and "integer codes" in f.observation


def test_comparable_target_scales_are_silent():
    r = rng()
    y = np.stack([r.normal(0, 1, N), r.normal(0, 5, N)], 1)
    assert not found(audit({"x": r.normal(size=(N, 3)), "target": y}), "target-scale-mismatch")


# ── classes ───────────────────────────────────────────────────────────────────────────────────────

def test_class_imbalance_and_rare_classes():
    r = rng()
    skewed = (r.random(N) < 0.04).astype(int)
    assert found(audit(table(label=skewed)), "class-imbalance")
    names = np.where(r.random(N) < 0.97, "lane-follow", "turn").astype(object)
    names[:3] = "u-turn"
    report = audit(table(label=names))
    assert found(report, "class-imbalance")
    assert found(report, "rare-classes")[0].evidence["rare"] == {"'u-turn'": 3}
    y = torch.randint(0, 4, (N,))
    report = audit({"x": torch.randn(N, 2), "y": y}, {"x": torch.randn(200, 2), "y": torch.full((200,), 7)})
    assert found(report, "rare-classes")[0].evidence["unseen_in_train"] == {"7": 200}


def test_balanced_or_moderately_skewed_classes_are_silent():
    r = rng()
    for label in (r.integers(0, 10, N), (r.random(N) < 0.3).astype(int)):
        assert not [c for c in codes(audit(table(label=label)), ("error", "warning", "info"))
                    if c in ("class-imbalance", "rare-classes")]


# ── duplicates and overlaps ───────────────────────────────────────────────────────────────────────

def test_duplicates_within_and_across_splits():
    df = table()
    report = audit(pd.concat([df, df.iloc[:300]]), table(1000, seed=5))
    assert found(report, "duplicate-rows")[0].evidence["repeats"] == 300 and not found(report, "split-overlap")
    images = rng(1).integers(0, 255, (800, 1, 8, 8), dtype=np.uint8)
    labels = rng(2).integers(0, 10, 800)
    report = audit({"x": images[:600], "y": labels[:600]}, {"x": images[560:], "y": labels[560:]})
    assert found(report, "split-overlap")[0].evidence["rows"] == 40 and report.exit_code == 1
    episodes = np.repeat(np.arange(100), 50)
    frames = {"episode": episodes, "obs": rng(3).normal(size=(5000, 3))}
    held_out = {"episode": np.repeat(np.arange(95, 120), 50), "obs": rng(4).normal(size=(1250, 3))}
    f = found(audit(frames, held_out), "split-overlap")[0]
    assert f.evidence["by"] == "group" and f.evidence["shared"] == 5


def test_chance_agreement_and_disjoint_groups_are_silent():
    r = rng()
    categorical = pd.DataFrame({"a": r.integers(0, 2, N), "b": r.integers(0, 3, N), "label": r.integers(0, 2, N)})
    report = audit(categorical, categorical.sample(500, random_state=1).reset_index(drop=True))
    assert not found(report, "duplicate-rows") and not found(report, "split-overlap")
    frames = {"episode": np.repeat(np.arange(100), 50), "obs": r.normal(size=(5000, 3))}
    held_out = {"episode": np.repeat(np.arange(100, 120), 50), "obs": r.normal(size=(1000, 3))}
    assert codes(audit(frames, held_out)) == []


# ── shift ─────────────────────────────────────────────────────────────────────────────────────────

def test_train_eval_shift():
    report = audit(table(), table(1000, seed=5).assign(x1=lambda d: d.x1 + 1.0))
    f = found(report, "train-eval-shift")[0]
    assert [d["dim"] for d in f.evidence["dims"]] == ["x1"] and f.evidence["dims"][0]["ks"] > 0.3
    bright = {"x": torch.rand(500, 3, 8, 8) * 0.5 + 0.5, "y": torch.randint(0, 10, (500,))}
    dark = {"x": torch.rand(2000, 3, 8, 8) * 0.5, "y": torch.randint(0, 10, (2000,))}
    assert len(found(audit(dark, bright), "train-eval-shift")[0].evidence["dims"]) == 3
    obs = rng().normal(3.0, 2.0, (N, 4))
    standardized_alone = (obs[:800] - obs[:800].mean(0)) / obs[:800].std(0)  # each split normalised with its own stats
    assert found(audit({"obs": obs}, {"obs": standardized_alone}), "train-eval-shift")


def demos(episodes, seed, degrees=False):
    """Robot demonstrations: per episode a random-walk observation and its actions, 100 steps each."""
    r = rng(seed)
    obs = np.cumsum(r.normal(size=(episodes, 100, 6)) * 0.05, 1).reshape(-1, 6)
    action = np.tanh(r.normal(size=(episodes * 100, 7))) * (180 / np.pi if degrees else 1.0)
    return {"episode": np.repeat(np.arange(seed * 1000, seed * 1000 + episodes), 100), "obs": obs, "action": action}


def test_same_distribution_is_not_shift():
    for n_eval in (50, 2000):
        assert not found(audit(table(), table(n_eval, seed=11)), "train-eval-shift")
    for seed in (1, 2, 3):  # frames of one episode are alike: 10 held-out episodes are 10 samples
        assert not found(audit(demos(50, seed), demos(10, seed + 10)), "train-eval-shift")
    walk = np.cumsum(rng(5).normal(size=N))  # a random walk split by time: its level is not a shift
    series = pd.DataFrame({"time": np.arange(N, dtype=float), "level": walk})
    assert not found(audit(series.iloc[:4000], series.iloc[4000:]), "train-eval-shift")


def test_shift_between_episodes():
    f = found(audit(demos(50, 1), demos(10, 11, degrees=True)), "train-eval-shift")[0]
    assert {d["dim"] for d in f.evidence["dims"]} == {f"action[{i}]" for i in range(7)}


# ── leakage ───────────────────────────────────────────────────────────────────────────────────────

def test_single_feature_leakage():
    df = table()
    report = audit(df.assign(leak=df.label * 2.0 + 1))
    assert found(report, "feature-leakage")[0].evidence["pairs"][0]["feature"] == "leak"
    r = rng(1)
    x = r.normal(size=(N, 3))
    y = x @ [1.0, -2.0, 0.5] + r.normal(size=N)
    leaked = np.column_stack([x, y + r.normal(size=N) * 0.01])  # the target hidden among the inputs
    assert found(audit({"x": leaked, "y": y}), "feature-leakage")[0].evidence["pairs"][0]["feature"] == "x[3]"
    names = np.array(["cat", "dog", "bird"], dtype=object)
    label = r.integers(0, 3, N)
    assert found(audit(table(label=label, label_name=names[label])), "feature-leakage")[0] \
        .evidence["pairs"][0]["feature"] == "label_name"


def test_a_lagged_value_of_a_series_is_not_leakage_but_a_copy_is():
    r = rng(4)
    walk = np.cumsum(r.normal(size=N)) * 0.1 + np.sin(np.arange(N) / 50)
    series = pd.DataFrame({"timestamp": pd.date_range("2021-01-01", periods=N, freq="min"), "now": walk,
                           "target": np.roll(walk, -1)})
    assert not found(audit(series.iloc[:-1]), "feature-leakage")
    copied = series.assign(future=series.target + r.normal(size=N) * 1e-4)
    assert found(audit(copied.iloc[:-1]), "feature-leakage")[0].evidence["pairs"][0]["feature"] == "future"


def test_interleaved_episodes_persist_within_each_episode():
    """Several episodes logged at the same clock: neighbours in time belong to other episodes, so the
    target's persistence is measured within each, and the current position is no leak of the next one
    (measured across episodes, the persistence was low and `x` was named)."""
    r = rng(6)
    frames = []
    for episode in range(8):
        walk = np.cumsum(r.normal(size=N // 8)) * 0.1 + np.sin(np.arange(N // 8) / 50 + episode)
        frames.append(pd.DataFrame({"t": np.arange(N // 8, dtype=float), "scene": episode, "x": walk,
                                    "target": np.roll(walk, -1)}).iloc[:-1])
    log = pd.concat(frames, ignore_index=True)
    assert not found(audit(log, group=["scene"], time="t"), "feature-leakage")


def test_a_policy_determined_by_one_observation_is_said_not_warned():
    obs = rng(5).normal(size=(N, 4))
    action = np.column_stack([-0.5 * obs[:, 0], np.clip(obs[:, 1], -1, 1)])  # a scripted controller
    report = audit({"obs": obs, "action": action})
    assert found(report, "feature-leakage")[0].severity == "info" and codes(report) == []


def test_strong_features_are_not_leakage():
    r = rng(2)
    x = r.normal(size=N)
    flipped = ((x > 0) ^ (r.random(N) < 0.05)).astype(int)
    assert not found(audit(table(x1=x, label=flipped)), "feature-leakage")
    y = 3 * x + r.normal(size=N)  # R² 0.9
    assert not found(audit({"x": np.column_stack([x, r.normal(size=N)]), "y": y}), "feature-leakage")


# ── time series split at random ───────────────────────────────────────────────────────────────────

def _series(n=N, seed=0):
    r = rng(seed)
    y = np.zeros(n)
    for i in range(1, n):
        y[i] = 0.98 * y[i - 1] + r.normal()
    return pd.DataFrame({"time": np.arange(n, dtype=float), "x": y + r.normal(size=n) * 0.1, "target": np.roll(y, -1)})


def test_shuffled_time_split():
    df = _series()
    shuffled = df.sample(frac=1.0, random_state=0)
    report = audit(shuffled.iloc[:4000], shuffled.iloc[4000:])
    assert found(report, "shuffled-time-split")[0].evidence["inside"] > 0.9
    dates = pd.DataFrame({"date": pd.date_range("2020-01-01", periods=N, freq="h"), "load": df.x, "y": df.target})
    s = dates.sample(frac=1.0, random_state=1)
    assert found(audit(s.iloc[:4000], s.iloc[4000:], target="y"), "shuffled-time-split")
    sensor = {"t": torch.arange(N, dtype=torch.float64), "reading": torch.tensor(df.x.values)}
    order = torch.randperm(N, generator=torch.Generator().manual_seed(0))
    first = {k: v[order[:4000]] for k, v in sensor.items()}
    rest = {k: v[order[4000:]] for k, v in sensor.items()}
    assert found(audit(first, rest, time="t"), "shuffled-time-split")


def test_time_splits_and_independent_rows_are_silent():
    df = _series()
    assert not found(audit(df.iloc[:4000], df.iloc[4000:]), "shuffled-time-split")  # split by time
    block = pd.concat([df.iloc[:2000], df.iloc[3000:]])
    assert not found(audit(block, df.iloc[2000:3000]), "shuffled-time-split")  # a held-out block
    r = rng(3)
    photos = pd.DataFrame({"time": r.uniform(0, 1e6, N), "x": r.normal(size=N), "target": r.normal(size=N)})
    assert not found(audit(photos.iloc[:4000], photos.iloc[4000:]), "shuffled-time-split")  # not a series
    episodes = pd.DataFrame({"episode": np.repeat(np.arange(50), 100), "time": np.tile(np.arange(100.0), 50),
                             "x": df.x, "target": df.target})
    by_episode = episodes.episode < 40
    assert not found(audit(episodes[by_episode], episodes[~by_episode]), "shuffled-time-split")


def test_dates_written_as_text_in_a_csv(tmp_path):
    df = _series()
    df["time"] = pd.date_range("2022-03-01", periods=N, freq="15min").strftime("%Y-%m-%d %H:%M")
    shuffled = df.sample(frac=1.0, random_state=2)
    shuffled.iloc[:4000].to_csv(tmp_path / "train.csv", index=False)
    shuffled.iloc[4000:].to_csv(tmp_path / "val.csv", index=False)
    report = audit(tmp_path / "train.csv", tmp_path / "val.csv")
    assert found(report, "shuffled-time-split")
    df.iloc[:4000].to_csv(tmp_path / "train.csv", index=False)
    df.iloc[4000:].to_csv(tmp_path / "val.csv", index=False)
    report = audit(tmp_path / "train.csv", tmp_path / "val.csv")
    assert not found(report, "shuffled-time-split")
    assert report.sections["data"]["splits"]["train"]["dims"]["time"]["min"] == pd.Timestamp("2022-03-01").timestamp()
