"""Validate `traindoctor sweeps` by simulation: synthetic sweeps with a known truth go through the same
numbers (`sweeps.stats.parameter`) and rules (`sweeps.rules.judge`) as a real one.

1. Null effect: the parameter does nothing. The "reliable" call (|t| >= 2 on the paired per-seed
   differences) should fire per value at the rate the t distribution predicts for n seeds,
   2 P(T_{n-1} > 2). Printed side by side, with the seeds' original recipe (t over within-seed
   z-scores) for contrast, and the rate of lucky-seed on these null sweeps.
2. Power: one value better by 0.25-2 run-to-run deviations; how often it is called reliably better.
3. A lucky seed: a null sweep where one seed's run at one value got a large boost; how often
   lucky-seed names it.

Every sweep has 4 values, a seed effect shared by the seed's runs (N(0, 1)) and run noise N(0, 1).
Deterministic: one seeded numpy Generator. Figures: --figures DIR writes the PNGs docs/sweeps.md shows.

    OMP_NUM_THREADS=1 .venv/bin/python bench/sweeps_simulation.py [--sims 1000] [--figures docs]
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats as sps

from traindoctor.judge.thresholds import RELIABLE_MIN_SEEDS, RELIABLE_T
from traindoctor.sweeps import stats
from traindoctor.sweeps.rules import chance_rate, judge

VALUES = 4
SEEDS = (2, 3, 4, 6, 8, 12)
EFFECTS = (0.25, 0.5, 1.0, 2.0)


def sweep(rng: np.random.Generator, seeds: int, effect: float = 0.0, boost: float = 0.0) -> pd.DataFrame:
    """seeds x VALUES runs; value 0 is better by `effect`; seed 0's run at value 1 gets `boost`."""
    metric = rng.normal(0, 1, (seeds, 1)) + rng.normal(0, 1, (seeds, VALUES))
    metric[:, 0] += effect
    metric[0, 1] += boost
    frame = pd.DataFrame({stats.SEED: np.repeat(np.arange(seeds), VALUES), stats.VALUE: np.tile(np.arange(VALUES), seeds),
                          stats.METRIC: metric.ravel()})
    frame[stats.Z] = stats.zscores(frame, [stats.SEED])
    return frame


def codes(frame: pd.DataFrame) -> tuple[dict, set[str]]:
    st = stats.parameter(frame)
    return st, {f.code for f in judge("", "p", st, "metric", True)}


def z_t(frame: pd.DataFrame) -> np.ndarray:
    """The seeds' original recipe: per value, t over seeds of the within-seed z-score."""
    z = frame.pivot(index=stats.SEED, columns=stats.VALUE, values=stats.Z).to_numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sps.ttest_1samp(z, 0.0, axis=0).statistic


def null(rng, sims: int) -> list[dict]:
    rows = []
    for n in SEEDS:
        fired = z_fired = lucky = 0
        for _ in range(sims):
            frame = sweep(rng, n)
            st, found = codes(frame)
            fired += sum(abs(r["t"]) >= RELIABLE_T for r in st["values"])
            z_fired += int(np.sum(np.abs(np.nan_to_num(z_t(frame), nan=0.0)) >= RELIABLE_T))
            lucky += "lucky-seed" in found
        rows.append({"seeds": n, "measured": fired / (sims * VALUES), "t distribution": chance_rate(n),
                     "z-score recipe": z_fired / (sims * VALUES), "lucky-seed per sweep": lucky / sims})
    return rows


def power(rng, sims: int) -> list[dict]:
    rows = []
    for effect in EFFECTS:
        for n in SEEDS:
            called = 0
            for _ in range(sims):
                st, found = codes(sweep(rng, n, effect))
                row = st["values"][0]
                called += n >= RELIABLE_MIN_SEEDS and row["t"] >= RELIABLE_T and "reliable-effect" in found
            # what the t distribution predicts: the paired difference of value 0 has mean `effect` and
            # variance 1 + 1/(VALUES-1) per seed (its own noise and the mean of the others')
            delta = effect / np.sqrt(1 + 1 / (VALUES - 1)) * np.sqrt(n)
            expected = sps.nct.sf(RELIABLE_T, n - 1, delta) if n >= RELIABLE_MIN_SEEDS else 0.0
            rows.append({"effect": effect, "seeds": n, "called": called / sims, "noncentral t": float(expected)})
    return rows


def lucky(rng, sims: int, boost: float = 10.0) -> list[dict]:
    rows = []
    for n in SEEDS[1:]:
        named = 0
        for _ in range(sims):
            st, found = codes(sweep(rng, n, boost=boost))
            named += "lucky-seed" in found
        rows.append({"seeds": n, "boost": boost, "lucky-seed": named / sims})
    return rows


def figures(null_rows: list[dict], power_rows: list[dict], folder: Path) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 3.2), layout="constrained")
    ax = fig.add_subplot()
    n = [r["seeds"] for r in null_rows]
    ax.plot(n, [r["t distribution"] for r in null_rows], "k-", label="2 P(T$_{n-1}$ > 2), t distribution")
    ax.plot(n, [r["measured"] for r in null_rows], "o", label="measured: paired t (traindoctor)")
    ax.plot(n, [r["z-score recipe"] for r in null_rows], "s", mfc="none", label="measured: t over z-scores")
    ax.plot(n, [r["lucky-seed per sweep"] for r in null_rows], "^", label="lucky-seed per null sweep")
    ax.axvline(RELIABLE_MIN_SEEDS, color="grey", ls=":", lw=1)
    ax.set(xlabel="seeds", ylabel="rate under a null effect", ylim=(0, None))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.savefig(folder / "sweeps-null.png", dpi=110)

    fig = Figure(figsize=(6, 3.2), layout="constrained")
    ax = fig.add_subplot()
    for effect in EFFECTS:
        rows = [r for r in power_rows if r["effect"] == effect]
        line, = ax.plot([r["seeds"] for r in rows], [r["called"] for r in rows], "o-", label=f"effect {effect:g} σ")
        ax.plot([r["seeds"] for r in rows], [r["noncentral t"] for r in rows], ":", color=line.get_color())
    ax.set(xlabel="seeds", ylabel="called reliably better", ylim=(0, 1.02))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, title="dots: measured; dotted: noncentral t", title_fontsize=8)
    fig.savefig(folder / "sweeps-power.png", dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sims", type=int, default=1000, help="simulated sweeps per cell (null and lucky; power: a third)")
    parser.add_argument("--figures", type=Path, help="write sweeps-null.png and sweeps-power.png here")
    args = parser.parse_args()
    rng = np.random.default_rng(20261123)
    with pd.option_context("display.float_format", "{:.3f}".format, "display.width", 120):
        null_rows = null(rng, args.sims)
        print("Null effect: per-value rate of |t| >= 2\n", pd.DataFrame(null_rows).to_string(index=False), "\n")
        power_rows = power(rng, max(100, args.sims // 3))
        print("Power: value 0 better by `effect` run-to-run deviations, called reliably better\n",
              pd.DataFrame(power_rows).to_string(index=False), "\n")
        print("A lucky seed: one run boosted by 10 deviations\n", pd.DataFrame(lucky(rng, args.sims)).to_string(index=False))
    if args.figures:
        figures(null_rows, power_rows, args.figures)


if __name__ == "__main__":
    main()
