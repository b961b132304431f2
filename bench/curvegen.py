"""Synthetic loss curves with realistic noise, one family per curve shape, for validating
`traindoctor curves` (bench/curves_validation.py, tests/test_curves.py).

Noise is multiplicative and heavy-tailed (minibatch losses), with random levels, lengths and
rates, so that no family is a single template. `family(name, rng)` returns
(label, {series name: (steps, values)}).
"""

from __future__ import annotations

import numpy as np

FAMILIES = ("healthy", "loss-plateau", "slow-convergence", "underfitting", "loss-oscillation", "loss-spikes",
            "loss-divergence", "overfitting", "loss-metric-mismatch")


def _noise(rng, n):
    """Minibatch noise: log-normal with a random spread, occasionally Student-t tails."""
    sigma = rng.uniform(0.02, 0.25)
    z = rng.standard_t(5, n) if rng.random() < 0.5 else rng.standard_normal(n)
    return np.exp(np.clip(sigma * z, -1.0, 1.0))


def _decay(rng, n):
    start, floor = rng.uniform(0.7, 5.0), rng.uniform(0.01, 0.3)
    rate = rng.uniform(3, 12) / n
    t = np.arange(n)
    return floor * start + (start - floor * start) * np.exp(-rate * t)


def family(name: str, rng: np.random.Generator) -> tuple[str, dict[str, tuple[np.ndarray, np.ndarray]]]:
    n = int(rng.integers(300, 5000))
    steps = np.arange(n, dtype=float)
    base = _decay(rng, n)
    out = {}
    if name == "healthy":
        loss = base * _noise(rng, n)
        if rng.random() < 0.5:  # with a validation curve that tracks it
            every = max(1, n // 20)
            out["val_loss"] = (steps[::every], base[::every] * rng.uniform(1.0, 1.2) * _noise(rng, len(steps[::every])) ** 0.3)
    elif name == "loss-plateau":
        level = rng.uniform(0.5, 3.0)
        loss = level * (1 + rng.uniform(-0.02, 0.0) * np.arange(n) / n) * _noise(rng, n)
    elif name == "slow-convergence":
        start = rng.uniform(1, 4)
        loss = start * (1 - rng.uniform(0.4, 0.7) * np.arange(n) / n) * _noise(rng, n)
    elif name == "underfitting":  # falls quickly, then stays at a floor well above the start's half
        start, floor = rng.uniform(0.7, 5.0), rng.uniform(0.55, 0.9)
        settle = rng.uniform(5, 30) / n
        loss = start * (floor + (1 - floor) * np.exp(-settle * np.arange(n))) * _noise(rng, n)
    elif name == "loss-oscillation":
        period = n / rng.uniform(6, 14)
        amp = rng.uniform(0.35, 0.8)
        loss = base * (1 + amp * np.sin(2 * np.pi * np.arange(n) / period)) * _noise(rng, n) + base.min() * 0.5
    elif name == "loss-spikes":
        loss = base * _noise(rng, n)
        # a spike jumps by multiples of the level and undoes part of the progress made so far
        for i in rng.choice(np.arange(n // 10, n), size=int(rng.integers(1, 6)), replace=False):
            loss[i] = max(loss[i] * rng.uniform(5, 50), base[i] + rng.uniform(0.35, 2.0) * (base[0] - base[i]))
    elif name == "loss-divergence":
        turn = int(n * rng.uniform(0.3, 0.7))
        loss = base * _noise(rng, n)
        growth = np.exp(rng.uniform(3, 8) * np.maximum(0, np.arange(n) - turn) / (n - turn))
        loss = loss * growth
        if rng.random() < 0.3:
            loss[int(turn + 0.8 * (n - turn)):] = np.nan
    elif name == "overfitting":
        loss = base * _noise(rng, n)
        every = max(1, n // 25)
        vs = steps[::every]
        best = rng.uniform(0.25, 0.5) * n
        val = base[::every] * 1.1 + np.maximum(0, vs - best) / n * rng.uniform(0.5, 2.0) * base[0]
        out["val_loss"] = (vs, val * _noise(rng, len(vs)) ** 0.2)
    elif name == "loss-metric-mismatch":
        loss = base * _noise(rng, n)
        every = max(1, n // 30)
        acc = rng.uniform(0.1, 0.5)
        out["val_acc"] = (steps[::every], acc + rng.normal(0, 0.002, len(steps[::every])))
    else:
        raise KeyError(name)
    out["train_loss"] = (steps, loss)
    return name, out
