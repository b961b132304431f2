"""The sweep's numbers and findings on sweeps with a known truth: a real effect, a null effect, a lucky
seed, confounded and unreplicated sweeps, NaN runs; each with healthy look-alikes that stay quiet."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from conftest import codes, validate
from sweeps_data import log_effect, sweep
from traindoctor.sweeps import SweepError, analyze
from traindoctor.sweeps.stats import METRIC, SEED, VALUE, Z, parameter, zscores


def run(frame, **overrides):
    return validate(analyze(frame, **overrides))


def lr_stats(report, group=""):
    return report.sections["sweeps"]["groups"][group]["parameters"]["lr"]


def all_codes(report):
    return codes(report, ("error", "warning", "info"))


# ── the numbers ──────────────────────────────────────────────────────────────

def test_paired_t_is_scipys_one_sample_t_of_per_seed_differences():
    frame = sweep(effect=log_effect(), seeds=5)
    st = lr_stats(run(frame))
    table = frame.pivot(index="seed", columns="lr", values="val/acc").to_numpy()
    top = table[:, 3] - table[:, :3].mean(axis=1)
    assert st["values"][3]["t"] == pytest.approx(sps.ttest_1samp(top, 0).statistic)
    assert st["values"][3]["diffs"] == pytest.approx(list(top))
    assert st["values"][0]["mean"] == pytest.approx(table[:, 0].mean())
    assert st["values"][0]["q10"] == pytest.approx(np.quantile(table[:, 0], 0.1))


def test_z_scores_are_within_group_and_seed():
    frame = pd.DataFrame({SEED: [0, 0, 1, 1], VALUE: [1, 2, 1, 2], METRIC: [0.1, 0.3, 10.0, 10.2]})
    frame[Z] = zscores(frame, [SEED])
    assert list(frame[Z]) == pytest.approx([-1, 1, -1, 1])  # the seeds' baselines (0.2 vs 10.1) are normalised out
    st = parameter(frame)
    assert [r["mean_z"] for r in st["values"]] == pytest.approx([-1, 1])
    assert st["values"][1]["t"] == math.inf  # every seed moved by the same amount


def test_dose_response_trend_on_a_log_scale():
    st = lr_stats(run(sweep(effect=log_effect(), seeds=5)))
    assert st["trend"]["log_scale"] and st["trend"]["r"] > 0.6 and st["trend"]["t"] > 2
    assert lr_stats(run(sweep(values=("adam", "sgd", "lion"), effect=0.0)))["trend"] is None  # not numeric


# ── a real effect ────────────────────────────────────────────────────────────

@pytest.mark.parametrize("shape", ["dose-response", "one value better", "lower is better"])
def test_a_real_effect_is_reliable(shape):
    if shape == "dose-response":
        report = run(sweep(effect=log_effect(), seeds=5))
    elif shape == "one value better":
        report = run(sweep(values=("adam", "sgd", "lion"), param="optimizer", effect=lambda v: 0.03 * (v == "lion"),
                           seeds=6, seed_spread=0.2))
    else:
        report = run(sweep(metric="val_loss", effect=lambda v: -0.05 * (v == 1e-3), seeds=4, rng=3))
    assert all_codes(report) == ["reliable-effect"], all_codes(report)
    f = report.findings[0]
    assert "better" in f.observation and f.severity == "info" and report.exit_code == 0


# ── a null sweep and a lucky seed ────────────────────────────────────────────

@pytest.mark.parametrize("rng", range(3))
def test_a_null_sweep_well_replicated_is_quiet(rng):
    report = run(sweep(effect=0.0, seeds=8, rng=rng))
    assert codes(report) == []  # no warning: no lucky seed, nothing confounded, enough seeds


@pytest.mark.parametrize("case", [dict(seeds=4, boost=(0, 1e-3, 0.08)), dict(seeds=6, boost=(3, 3e-4, 0.1), rng=1),
                                  dict(seeds=5, values=("a", "b"), param="lr", boost=(2, "b", 0.15), rng=2)])
def test_one_lucky_seed_is_named(case):
    report = run(sweep(effect=0.0, **case))
    lucky = [f for f in report.findings if f.code == "lucky-seed"]
    assert lucky, all_codes(report)
    (said,) = lucky[0].evidence["by_parameter"]
    assert said["seed"] == 1000 + case["boost"][0] and said["value"] == case["boost"][1] and said["parameter"] == "lr"
    assert "reliable-effect" not in all_codes(report)


def test_a_real_effect_with_a_noisy_seed_is_not_called_lucky():
    report = run(sweep(effect=log_effect(0.03), seeds=6, boost=(2, 3e-3, 0.02)))
    assert "lucky-seed" not in all_codes(report) and "reliable-effect" in all_codes(report)


# ── design problems ──────────────────────────────────────────────────────────

@pytest.mark.parametrize("other", [
    lambda v, s: {1e-4: 32, 3e-4: 64, 1e-3: 128, 3e-3: 256}[v],      # scaled together
    lambda v, s: "v2" if v >= 1e-3 else "v1",                          # a code change halfway
    lambda v, s: "warmup" if v == 3e-3 else ("none" if s % 5 else "warmup"),  # mostly tied
])
def test_a_confounded_sweep(other):
    report = run(sweep(effect=log_effect(), seeds=5, extra={"other": other}))
    f = next(f for f in report.findings if f.code == "confounded-sweep")
    (said,) = f.evidence["by_parameter"]
    assert set(said["parameters"]) == {"lr", "other"} and said["cramers_v"] >= 0.5
    # the effect may be the other parameter's: read after the confounder
    assert next(f for f in report.findings if f.code == "reliable-effect").explained_by == "confounded-sweep"


def test_a_label_spelling_out_the_value_is_no_confounder():
    label = {"out_dir": lambda v, s: f"runs/lr{v:g}"}
    frame = pd.concat([sweep(effect=log_effect(), seeds=5, rng=r, extra=label).assign(loss_weight=w)
                       for r, w in ((0, 0.5), (1, 1.0))])  # a setting named like a metric, crossed with lr
    report = run(frame)
    assert "confounded-sweep" not in all_codes(report) and report.sections["sweeps"]["metric"] == "val/acc"
    assert set(report.sections["sweeps"]["groups"][""]["parameters"]) == {"lr", "loss_weight"}
    assert any("`out_dir` names the `lr` values" in n for n in report.sections["sweeps"]["notes"])


def test_a_full_grid_is_not_confounded():
    frame = pd.concat([sweep(effect=log_effect(), seeds=4, rng=r).assign(batch=b) for r, b in ((0, 32), (1, 64))])
    report = run(frame)
    assert "confounded-sweep" not in all_codes(report)
    assert any("all vary" in n for n in report.sections["sweeps"]["notes"])
    assert set(report.sections["sweeps"]["groups"][""]["parameters"]) == {"lr", "batch"}


@pytest.mark.parametrize("seeds,said", [(1, "no t-statistic"), (2, "by chance"), (3, "by chance")])
def test_too_few_seeds_is_unreplicated(seeds, said):
    report = run(sweep(effect=log_effect(), seeds=seeds))
    f = next(f for f in report.findings if f.code == "unreplicated")
    assert said in f.observation and f.evidence["by_parameter"][0]["paired_seeds"] == seeds
    assert "reliable-effect" not in all_codes(report)


def test_no_seed_column_and_one_run_per_value_is_unreplicated():
    report = run(sweep(seeds=1).drop(columns="seed"))
    assert all_codes(report) == ["unreplicated"]


def test_repeated_configurations_without_a_seed_cannot_be_paired():
    report = run(sweep(seeds=3).drop(columns="seed"))
    assert report.exit_code == 2 and "--seed" in report.unchecked[0]


def test_unpaired_seeds_are_left_out_and_said():
    frame = sweep(effect=log_effect(), seeds=5)
    frame = frame[~((frame.seed == 1004) & (frame.lr == 1e-4))]
    report = run(frame)
    st = lr_stats(report)
    assert st["unpaired_seeds"] == [1004] and len(st["paired_seeds"]) == 4
    assert any("1004" in n and "paired" in n for n in report.sections["sweeps"]["notes"])


# ── NaN runs, groups ─────────────────────────────────────────────────────────

def test_nan_runs_are_listed_never_dropped_silently():
    frame = sweep(effect=log_effect(), seeds=5)
    frame.loc[frame.name == "run-2-0.003", "val/acc"] = np.nan
    frame.loc[frame.name == "run-4-0.003", "val/acc"] = np.inf
    report = run(frame)
    listed = report.sections["sweeps"]["nonfinite_runs"]
    assert [r["run"] for r in listed] == ["run-2-0.003", "run-4-0.003"] and listed[0]["config"] == {"lr": 3e-3}
    assert any("run-2-0.003" in n and "non-finite" in n for n in report.sections["sweeps"]["notes"])
    assert report.sections["sweeps"]["runs"] == 20


def test_groups_are_analysed_apart():
    a = sweep(effect=log_effect(), seeds=4).assign(group="sweep-lr-a")
    b = sweep(effect=0.0, seeds=4, rng=5).assign(group="sweep-lr-b", **{"val/acc": lambda f: f["val/acc"] + 0.2})
    c = sweep(values=(1e-3,), seeds=4, rng=6).assign(group="baseline", dropout=0.1)
    report = run(pd.concat([a, b, c.assign(dropout=0.1)]).assign(dropout=lambda f: f.dropout.fillna(0.0)))
    groups = report.sections["sweeps"]["groups"]
    assert set(groups) == {"sweep-lr-a", "sweep-lr-b", "baseline"} and groups["baseline"]["parameters"] == {}
    notes = " ".join(report.sections["sweeps"]["notes"])
    assert "analysed apart" in notes and "dropout differ only between groups" in notes
    assert lr_stats(report, "sweep-lr-a")["trend"]["t"] > 2


def test_one_finding_per_code_names_every_parameter():
    report = run(pd.concat([sweep(effect=log_effect(), seeds=6).assign(group="lr-sweep"),
                            sweep(values=("adam", "sgd", "lion"), param="optimizer", seeds=4,
                                  effect=lambda v: 0.03 * (v == "lion")).assign(group="opt-sweep")]))
    (f,) = report.findings
    assert f.code == "reliable-effect" and "`lr` in group lr-sweep" in f.observation
    assert "`optimizer` in group opt-sweep" in f.observation and "lion better" in f.observation
    assert [e["parameter"] for e in f.evidence["by_parameter"]] == ["lr", "optimizer"]


# ── overrides and errors ─────────────────────────────────────────────────────

def test_overrides_name_the_columns_and_direction():
    frame = sweep(effect=log_effect(), seeds=5).rename(columns={"seed": "rep", "val/acc": "quality"})
    report = run(frame, metric="quality", seed="rep", params=["lr"], higher_is_better=False)
    f = next(f for f in report.findings if f.code == "reliable-effect")
    assert f.observation.index("0.0001 better") < f.observation.index("0.003 worse")
    with pytest.raises(SweepError, match="no column named nope"):
        analyze(frame, metric="nope")


def test_no_metric_says_what_to_do():
    with pytest.raises(SweepError, match="--metric"):
        analyze(pd.DataFrame({"seed": [0, 1], "lr": [1, 2], "foo": ["a", "b"]}))


def test_public_api_is_callable():
    import traindoctor

    frame = sweep(effect=log_effect(), seeds=5)
    before = frame.copy()
    report = traindoctor.sweeps(frame, metric="val/acc")
    pd.testing.assert_frame_equal(frame, before)  # the user's table is left as it was
    assert report.command == "sweeps <DataFrame>" and "reliable-effect" in all_codes(report)
    import traindoctor.sweeps as module  # the package shadows the function once imported: it is callable too

    assert all_codes(module(sweep(seeds=1))) == ["unreplicated"]
