"""Points in the order they were logged, to one step axis per series.

A log file is appended to: a run killed and started again, or resumed from a checkpoint, writes
its steps after the old ones. Read as one curve sorted by step, two runs interleave and look like
an oscillating loss. The rule, TensorBoard's own for restarted runs: where a series' step goes
back, the points logged later replace the earlier ones from that step on. It is decided per
series, so none of these is a restart: the same step twice (training and validation rows logged
separately), series written one after another (all of `loss`, then all of `val_loss`), and a step
that restarts exactly when an `epoch` column increases (a step counted within each epoch).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Placed:
    x: np.ndarray            # the step axis of each point
    keep: np.ndarray         # False: replaced by a later run
    kind: str | None = None  # None, "epoch", "appended" or "resumed"
    at: tuple = ()           # labels (line or row numbers) of the points where the step went back


def place(steps: np.ndarray, epochs: np.ndarray | None, labels: np.ndarray) -> Placed:
    """Place one series' points, given in logging order."""
    n = len(steps)
    back = np.flatnonzero(steps[1:] < steps[:-1]) + 1
    if len(back) == 0:
        return Placed(steps, np.ones(n, dtype=bool))
    at = tuple(int(v) for v in labels[back])
    if epochs is not None and _counts_within_epoch(epochs, back):
        gaps = np.diff(steps)
        spacing = float(np.median(gaps[gaps > 0])) if (gaps > 0).any() else 1.0
        offset = np.zeros(n)
        offset[back] = steps[back - 1] - steps[back] + spacing  # each epoch continues where the last ended
        return Placed(steps + np.cumsum(offset), np.ones(n, dtype=bool), "epoch", at)
    later = np.full(n, np.inf)
    later[back] = steps[back]
    floor = np.append(np.minimum.accumulate(later[::-1])[::-1][1:], np.inf)  # lowest restart step after each point
    kind = "appended" if (steps[back] <= steps[0]).all() else "resumed"
    return Placed(steps, steps < floor, kind, at)


def constant(steps: np.ndarray) -> bool:
    """Every row at one step (MLflow's default step 0, a column that is not a step)."""
    return len(steps) > 1 and bool((steps == steps[0]).all())


def describe(step: str, placed: dict[str, Placed], unit: str) -> list[str]:
    """One note per way the step went back, naming the series it applies to."""
    groups: dict[tuple, list[str]] = {}
    for name, p in placed.items():
        if p.kind:
            groups.setdefault((p.kind, p.at), []).append(name)
    notes = []
    for (kind, at), names in groups.items():
        where, series = _list(at, unit), _names(names)
        if kind == "epoch":
            notes.append(f"`{step}` restarts whenever `epoch` increases ({len(at)} times) in {series}: read as steps "
                         "within an epoch; the x axis is a running step across epochs")
            continue
        kept = np.concatenate([placed[n].x[placed[n].keep] for n in names])
        if kind == "appended":
            notes.append(f"`{step}` starts again at {where} in {series}: {len(at) + 1} runs appended to one file; "
                         f"the last run is analysed (steps {kept.min():g}–{kept.max():g})")
        else:
            notes.append(f"`{step}` goes back at {where} in {series}: read as a resumed run, the points logged later "
                         "replace the earlier ones from their step on")
    return notes


def _counts_within_epoch(epochs: np.ndarray, back: np.ndarray) -> bool:
    """The epoch never decreases and increases at every point where the step goes back."""
    idx = np.where(np.isfinite(epochs), np.arange(len(epochs)), 0)
    filled = epochs[np.maximum.accumulate(idx)]  # a point without an epoch takes the last one seen
    finite = filled[np.isfinite(filled)]
    return (len(finite) > 0 and bool((np.diff(finite) >= 0).all())
            and bool((filled[back] > filled[back - 1]).all()))


def _names(names: list[str], shown: int = 3) -> str:
    quoted = [f"`{n}`" for n in names[:shown]]
    if len(names) > shown:
        return ", ".join(quoted) + f" and {len(names) - shown} more series"
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def _list(labels, unit: str, shown: int = 5) -> str:
    labels = list(labels)
    head = ", ".join(str(int(x)) for x in labels[:shown])
    return f"{unit}{'s' * (len(labels) > 1)} {head}" + (f" and {len(labels) - shown} more" if len(labels) > shown else "")


def skipped(count: int, total: int, unit: str, reason: str, where: list[int]) -> str:
    """'skipped 2 of 400 lines: corrupt (lines 101, 251)'; without the places when they are not known."""
    return f"skipped {count} of {total:,} {unit}s: {reason}" + (f" ({_list(where, unit)})" if where else "")
