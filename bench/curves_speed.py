"""Speed of `traindoctor curves` on one long series: 10 million points by default.

Times the analysis of an in-memory series (reduction to blocks, rolling statistics, every loss
rule) and, separately, reading the same series from a CSV written by pandas. Prints points/s.

    python bench/curves_speed.py [--points 10000000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from traindoctor.curves import analyze
from traindoctor.judge.series import Series
from traindoctor.judge.series import loss_events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, default=10_000_000)
    args = parser.parse_args()
    n = args.points
    rng = np.random.default_rng(0)
    steps = np.arange(n, dtype=float)
    loss = (0.1 + 2.0 * np.exp(-8 * steps / n)) * np.exp(0.1 * rng.standard_normal(n))
    series = Series.of(steps, loss)
    t = time.perf_counter()
    events = loss_events("loss", series)
    analysis = time.perf_counter() - t
    print(f"analysis of {n:,} points: {analysis:.2f} s ({n / analysis:,.0f} points/s), events: {[e.code for e in events]}")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "log.csv"
        pd.DataFrame({"step": steps, "loss": loss}).to_csv(path, index=False)
        t = time.perf_counter()
        report = analyze(path)
        total = time.perf_counter() - t
    print(f"read CSV + analysis: {total:.2f} s ({n / total:,.0f} points/s), findings: {[f.code for f in report.findings]}")


if __name__ == "__main__":
    main()
