"""Synthetic sweeps with a known truth, as tables of runs (one row per run)."""

import numpy as np
import pandas as pd


def sweep(*, values=(1e-4, 3e-4, 1e-3, 3e-3), seeds=5, effect=0.0, noise=0.01, seed_spread=0.05, metric="val/acc",
          param="lr", boost=None, rng=0, extra=None) -> pd.DataFrame:
    """`effect(value)` is the true metric shift of a value (0: a null sweep); each seed has a baseline shared by
    its runs; `boost=(seed, value, amount)` adds a lucky run; `extra` adds columns (name -> function(value, seed))."""
    rng = np.random.default_rng(rng)
    rows = []
    for s in range(seeds):
        base = 0.7 + rng.normal(0, seed_spread)
        for v in values:
            m = base + (effect(v) if callable(effect) else effect) + rng.normal(0, noise)
            if boost and boost[0] == s and boost[1] == v:
                m += boost[2]
            row = {"name": f"run-{s}-{v}", "seed": 1000 + s, param: v, metric: m}
            for k, f in (extra or {}).items():
                row[k] = f(v, s)
            rows.append(row)
    return pd.DataFrame(rows)


def log_effect(size=0.02):
    """A dose-response: the metric rises by `size` per decade of the value."""
    return lambda v: size * np.log10(v / 1e-4)
