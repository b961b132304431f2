"""A profile of columns, built chunk by chunk in bounded memory: the statistics the column rules read
(judge/columns.py), shared by `traindoctor data` (whole splits) and `run` and the Monitor (the batches
they see).

Each column gets a `Layout` from its first chunk: text, or numbers split into dimensions — a scalar
column is one dimension, a vector column (N, d) has d, and an image-like array (N, C, H, W), or a
row wider than WIDE values, is pooled per channel: its statistics are over all of a channel's values,
and its rows enter the sample as per-channel means (a black border pixel is no "constant feature").
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .streaming import Counts, Extremes, Moments, Reservoir, RowHashes, Stretches, column_hashes, combine, quantised

WIDE = 128  # a row of more values than this is pooled (a flattened image), not one dimension per value
NUMERIC_SHARE = 0.9  # a text column whose values are at least this share numbers is a numeric column
MAX_GROUPS = 2_000_000  # distinct group keys kept per split (at most ~130 MB as ints, ~200 MB as short text)
HASHED = "#"  # the sample's key of a column's row hashes: `#name`


@dataclass
class Layout:
    name: str
    kind: str  # "number" or "text"
    dims: list[str]
    pooled: bool = False  # statistics over all values of a channel: no per-row outliers or sentinels
    axis: int = 1  # the channel axis of a pooled array


@dataclass
class Profile:
    name: str
    rows: int = 0
    layouts: dict[str, Layout] = field(default_factory=dict)
    moments: dict[str, Moments] = field(default_factory=dict)
    extremes: dict[str, Extremes] = field(default_factory=dict)
    counts: dict[str, list[Counts]] = field(default_factory=dict)  # per dimension
    text_missing: dict[str, int] = field(default_factory=dict)
    not_numbers: dict[str, dict] = field(default_factory=dict)  # text in a numeric column: count, examples
    sample: Reservoir = field(default_factory=Reservoir)
    hashes: RowHashes = field(default_factory=RowHashes)
    near: RowHashes = field(default_factory=RowHashes)  # the same rows with numbers rounded (NEAR_BITS), ids left out
    groups: dict[str, set] = field(default_factory=dict)
    stretches: Stretches | None = None  # runs of consecutive rows, for series checks on a split the sample thins
    notes: list[str] = field(default_factory=list)

    def dims(self) -> list[tuple[str, int, str]]:
        """(column, index, dimension name) of every numeric dimension."""
        return [(c, i, d) for c, lay in self.layouts.items() if lay.kind == "number" for i, d in enumerate(lay.dims)]

    def sampled(self, column: str, index: int = 0) -> np.ndarray:
        values = self.sample.rows.get(column)
        if values is None:
            return np.empty(0)
        return values[:, index] if values.ndim == 2 else values


def add_chunk(p: Profile, chunk: dict[str, np.ndarray], groups: list[str] = (), ids: list[str] = (),
              near_bits: int | None = None) -> None:
    """Add rows (`chunk`: column -> array, one row per sample) to the profile. `groups`: columns whose distinct
    keys are kept (episode, scene); `ids`: columns left out of the near-duplicate hashes; `near_bits`: the
    rounding of numbers for near-duplicate hashes (None: rows are not hashed, as for training batches)."""
    n = len(next(iter(chunk.values())))
    if n == 0:
        return
    for name, values in chunk.items():
        if name not in p.layouts:
            if p.rows:
                note = f"{p.name}: column `{name}` is missing from the first rows; left out"
                if note not in p.notes:
                    p.notes.append(note)
                continue
            p.layouts[name] = _layout(name, values)
            _start(p, p.layouts[name])
    sample: dict[str, np.ndarray] = {}
    for name, lay in p.layouts.items():
        values = chunk.get(name)
        if values is None:
            values = np.full(n, np.nan) if lay.kind == "number" and not lay.pooled and len(lay.dims) == 1 \
                else np.full(n, None, dtype=object)
        if lay.kind == "text":
            values = np.asarray(values, dtype=object)
            missing = np.array([v is None or v == "" or v != v for v in values])
            p.text_missing[name] += int(missing.sum())
            p.counts[name][0].add(values[~missing])
            sample[name] = chunk[name] = values
        else:
            values = _numbers(p, name, values)
            pooled, rows = _values(lay, values)
            p.moments[name].add(pooled)
            if not lay.pooled:
                p.extremes[name].add(rows)
                for i, c in enumerate(p.counts[name]):
                    c.add(rows[:, i])
            sample[name] = rows
            chunk[name] = values
        if name in groups:
            _groups(p, name, chunk.get(name))
    if p.stretches is not None:
        p.stretches.add(sample)
    if near_bits is None:
        p.sample.add(sample)
        p.rows += n
        return
    hashes = column_hashes({k: v for k, v in chunk.items() if k in p.layouts})
    p.hashes.add(combine(hashes))
    # near duplicates: a re-exported row (float32, printed round-off) under a new row id is the same sample
    kept = [k for k in hashes if k not in ids]
    if kept:  # text is not rounded: its hashes are the exact ones
        numbers = {k: chunk[k] for k in kept if p.layouts[k].kind == "number"}
        p.near.add(combine({**{k: hashes[k] for k in kept}, **column_hashes(quantised(numbers, near_bits))}))
    # each column's hash rides in the sample: the chance that two rows agree on it, for the duplicate check
    p.sample.add({**sample, **{HASHED + k: v for k, v in hashes.items()}})
    p.rows += n


def _layout(name: str, values: np.ndarray) -> Layout:
    if values.dtype.kind in "OUS":  # Python objects, or numpy's own strings (np.random.choice of labels)
        if _mostly_numbers(values):
            return Layout(name, "number", [name])
        return Layout(name, "text", [name])
    if values.ndim == 1:
        return Layout(name, "number", [name])
    if values.ndim == 2 and values.shape[1] <= WIDE:
        return Layout(name, "number", [f"{name}[{i}]" for i in range(values.shape[1])])
    shape = values.shape[1:]
    if values.ndim >= 3 and shape[0] <= 16:
        axis, channels = 1, shape[0]
    elif values.ndim >= 3 and shape[-1] <= 4:
        axis, channels = values.ndim - 1, shape[-1]
    else:
        axis, channels = 0, 1  # one pool of all values
    dims = [name] if channels == 1 else [f"{name}[c{i}]" for i in range(channels)]
    return Layout(name, "number", dims, pooled=True, axis=axis)


def _mostly_numbers(values: np.ndarray) -> bool:
    import pandas as pd

    present = [v for v in values if v is not None and v == v and v != ""]
    if not present:
        return False
    parsed = pd.to_numeric(pd.Series(present, dtype=object), errors="coerce")
    return bool(parsed.notna().mean() >= NUMERIC_SHARE)


def _start(p: Profile, lay: Layout) -> None:
    if lay.kind == "text":
        p.text_missing[lay.name] = 0
        p.counts[lay.name] = [Counts()]
        return
    p.moments[lay.name] = Moments(len(lay.dims))
    if not lay.pooled:
        p.extremes[lay.name] = Extremes(len(lay.dims))
        p.counts[lay.name] = [Counts() for _ in lay.dims]


def _numbers(p: Profile, name: str, values: np.ndarray) -> np.ndarray:
    """A numeric column's chunk as float64; text in it (a '?' or 'n/a' of a CSV) becomes missing, counted
    with examples for the report."""
    if values.dtype.kind not in "OUS":
        return values.astype(np.float64, copy=False)
    import pandas as pd

    series = pd.Series(values, dtype=object)
    parsed = pd.to_numeric(series, errors="coerce")
    bad = series[parsed.isna() & series.notna() & (series != "")]
    if len(bad):
        seen = p.not_numbers.setdefault(name, {"count": 0, "examples": []})
        seen["count"] += len(bad)
        seen["examples"] = list(dict.fromkeys(seen["examples"] + [str(v) for v in bad.unique()[:3]]))[:3]
    return parsed.to_numpy(np.float64)


def _values(lay: Layout, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(values for the moments: (m, dims), one row per sample: (n, dims))."""
    n = len(values)
    if not lay.pooled:
        rows = values.reshape(n, -1)
        return rows, rows
    channels = len(lay.dims)
    if lay.axis == 0:
        flat = values.reshape(n, -1)
        with np.errstate(invalid="ignore"):
            return flat.reshape(-1, 1), flat.mean(1, keepdims=True)
    moved = np.moveaxis(values, lay.axis, -1).reshape(n, -1, channels)
    with np.errstate(invalid="ignore"):
        return moved.reshape(-1, channels), moved.mean(1)


def _groups(p: Profile, name: str, values: np.ndarray | None) -> None:
    """The first MAX_GROUPS distinct keys in file order: a bound on memory whatever the chunking."""
    if values is None:
        return
    keys = p.groups.setdefault(name, set())
    capped = (f"{p.name}: `{name}` has more than {MAX_GROUPS:,} distinct values; its overlap between splits "
              f"is judged on the first {MAX_GROUPS:,} of them")
    if capped in p.notes:
        return
    new = [v for v in dict.fromkeys(values.tolist()) if v is not None and v == v and v not in keys]
    room = MAX_GROUPS - len(keys)
    keys.update(new[:room])
    if len(new) > room:
        p.notes.append(capped)
