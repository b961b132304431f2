"""Streaming statistics: each accumulator sees the data once, chunk by chunk, in bounded memory.

- `Moments`: count, mean, variance (Chan et al.'s pairwise merge), min and max per dimension, and the
  count of missing (NaN) and infinite values.
- `Extremes`: the EXTREMES largest and smallest values per dimension, exactly.
- `Reservoir`: a uniform sample of whole rows (bottom-k on random keys from a generator of its own,
  seeded: same data, same sample; the user's random streams are never touched). Rows, not values,
  so a feature stays paired with its target for the leakage check.
- `Stretches`: whole runs of STRETCH consecutive rows, a seeded random choice of them, for checks that read
  rows as time series on a split too long for the `Reservoir` to hold every row: neighbouring rows of a
  stretch are neighbouring rows of the file.
- `Counts`: exact value counts up to MAX_DISTINCT distinct values, then only "many".
- `RowHashes`: a 64-bit hash per row; past HASH_CAP hashes only those under a falling bar are kept
  (a sample by hash value: the same rows are kept in every split, so overlaps stay comparable).
"""

from __future__ import annotations

from typing import Any

import numpy as np

EXTREMES = 256  # largest and smallest values kept per dimension
RESERVOIR = 10_000  # rows sampled for quantiles, robust scales, tests and the leakage check
MAX_DISTINCT = 1_000  # distinct values counted exactly per dimension
HASH_CAP = 4_000_000  # row hashes kept per split (32 MB); beyond, a sample by hash value
HASH_PARTS = 64  # arrays of hashes held before they are joined into one
SEED = 20_241_115  # the reservoir's own generator


class Moments:
    def __init__(self, dims: int) -> None:
        self.n = np.zeros(dims)
        self.mean = np.zeros(dims)
        self.m2 = np.zeros(dims)
        self.min = np.full(dims, np.inf)
        self.max = np.full(dims, -np.inf)
        self.missing = np.zeros(dims, dtype=np.int64)
        self.infinite = np.zeros(dims, dtype=np.int64)

    def add(self, values: np.ndarray) -> None:
        """`values`: (rows, dims)."""
        self.missing += np.isnan(values).sum(0)
        self.infinite += np.isinf(values).sum(0)
        finite = np.isfinite(values)
        n = finite.sum(0).astype(float)
        if not n.any():
            return
        x = np.where(finite, values, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(n > 0, x.sum(0) / np.maximum(n, 1), 0.0)
            m2 = (np.where(finite, values - mean, 0.0) ** 2).sum(0)
            total = self.n + n
            delta = mean - self.mean
            self.mean = np.where(total > 0, self.mean + delta * n / np.maximum(total, 1), 0.0)
            self.m2 = self.m2 + m2 + delta ** 2 * self.n * n / np.maximum(total, 1)
        self.n = total
        self.min = np.minimum(self.min, np.where(finite, values, np.inf).min(0))
        self.max = np.maximum(self.max, np.where(finite, values, -np.inf).max(0))

    @property
    def std(self) -> np.ndarray:
        return np.sqrt(self.m2 / np.maximum(self.n - 1, 1))


class Extremes:
    def __init__(self, dims: int) -> None:
        self.high = np.empty((0, dims))
        self.low = np.empty((0, dims))

    def add(self, values: np.ndarray) -> None:
        finite = np.isfinite(values)
        self.high = _top(np.vstack([self.high, np.where(finite, values, -np.inf)]))
        self.low = -_top(np.vstack([-self.low, np.where(finite, -values, -np.inf)]))


def _top(values: np.ndarray) -> np.ndarray:
    """The EXTREMES largest values of each column, -inf where a column has fewer finite ones."""
    if len(values) > EXTREMES:
        values = np.partition(values, len(values) - EXTREMES, axis=0)[-EXTREMES:]
    return values


class Reservoir:
    def __init__(self, seed: int = SEED) -> None:
        self.rng = np.random.default_rng(seed)
        self.keys = np.empty(0)
        self.rows: dict[str, np.ndarray] = {}

    def add(self, rows: dict[str, np.ndarray]) -> None:
        n = len(next(iter(rows.values())))
        keys = np.concatenate([self.keys, self.rng.random(n)])
        merged = {k: np.concatenate([self.rows[k], v]) if k in self.rows else v for k, v in rows.items()}
        if len(keys) > RESERVOIR:
            keep = np.sort(np.argpartition(keys, RESERVOIR)[:RESERVOIR])
            keys = keys[keep]
            merged = {k: v[keep] for k, v in merged.items()}
        self.keys, self.rows = keys, merged


STRETCH = 500  # consecutive rows per stretch: several episodes of a few seconds, or one long one in part
STRETCH_ID = "@stretch"  # the column of a stretches sample that says which stretch a row belongs to


class Stretches:
    """Bottom-k stretches on random keys from a generator of its own (seeded: same data, same stretches; the
    user's random streams are never touched), RESERVOIR rows in all. A stretch's key is drawn when its first
    row arrives, so one that cannot be kept is never copied."""

    def __init__(self, seed: int = SEED + 1) -> None:
        self.rng = np.random.default_rng(seed)
        self.kept: list[tuple[float, int, dict[str, np.ndarray]]] = []  # (key, stretch number, rows)
        self.number = -1
        self.filled = STRETCH  # rows in the open stretch: a new one opens at the next row
        self.open: dict[str, list[np.ndarray]] | None = None
        self.key = 1.0

    def add(self, rows: dict[str, np.ndarray]) -> None:
        n, start = len(next(iter(rows.values()))), 0
        while start < n:
            if self.filled == STRETCH:
                self._open()
            take = min(STRETCH - self.filled, n - start)
            if self.open is not None:
                for name, values in rows.items():
                    self.open.setdefault(name, []).append(values[start:start + take])
            self.filled += take
            start += take

    def _open(self) -> None:
        self._close()
        self.number += 1
        self.filled = 0
        self.key = float(self.rng.random())
        full = len(self.kept) >= _stretches_kept()
        self.open = {} if not full or self.key < max(k for k, _, _ in self.kept) else None

    def _close(self) -> None:
        if not self.open:
            return
        self.kept.append((self.key, self.number, {k: np.concatenate(v) for k, v in self.open.items()}))
        self.kept.sort(key=lambda kept: kept[0])
        del self.kept[_stretches_kept():]
        self.open = None

    def rows(self) -> dict[str, np.ndarray]:
        """The kept stretches in file order, joined, with STRETCH_ID numbering them (the open one counts
        as it stands: reading changes nothing)."""
        candidates = list(self.kept)
        if self.open:
            candidates.append((self.key, self.number, {k: np.concatenate(v) for k, v in self.open.items()}))
        kept = sorted(sorted(candidates, key=lambda c: c[0])[:_stretches_kept()], key=lambda c: c[1])
        if not kept:
            return {}
        out = {k: np.concatenate([rows[k] for _, _, rows in kept]) for k in kept[0][2]}
        out[STRETCH_ID] = np.concatenate([np.full(len(next(iter(rows.values()))), number) for _, number, rows in kept])
        return out


def _stretches_kept() -> int:
    return max(1, RESERVOIR // STRETCH)


class Counts:
    def __init__(self) -> None:
        self.counts: dict[Any, int] | None = {}

    def add(self, values: np.ndarray) -> None:
        if self.counts is None:
            return
        if values.dtype == object:  # None and NaN are missing, counted elsewhere
            kept = np.asarray([str(v) for v in values if v is not None and v == v], dtype=object)
        else:
            kept = values[~np.isnan(values)]
        uniq, counts = np.unique(kept, return_counts=True)
        for u, c in zip(uniq.tolist(), counts.tolist()):
            self.counts[u] = self.counts.get(u, 0) + c
        if len(self.counts) > MAX_DISTINCT:
            self.counts = None

    @property
    def distinct(self) -> int | None:
        return None if self.counts is None else len(self.counts)


class RowHashes:
    def __init__(self) -> None:
        self.parts: list[np.ndarray] = []
        self.kept = 0
        self.bar = np.iinfo(np.uint64).max  # hashes above it are dropped: a sample of 1 in (2^64 / bar)

    def add(self, hashes: np.ndarray) -> None:
        hashes = hashes[hashes <= self.bar]
        self.parts.append(hashes)
        self.kept += len(hashes)
        if len(self.parts) > HASH_PARTS:  # small chunks (a DataLoader's batches): one array, not thousands
            self.parts = [np.concatenate(self.parts)]
        while self.kept > HASH_CAP:
            self.bar //= 2
            self.parts = [h[h <= self.bar] for h in self.parts]
            self.kept = sum(len(h) for h in self.parts)

    def under(self, bar: int) -> np.ndarray:
        """The kept hashes at or under `bar` (not to be written to: at the own bar, the kept array itself)."""
        if len(self.parts) != 1:  # joined once, in place: no second copy of the whole sample
            self.parts = [np.concatenate(self.parts) if self.parts else np.empty(0, np.uint64)]
        whole = self.parts[0]
        return whole if bar >= self.bar else whole[whole <= bar]

    @property
    def sampled(self) -> float:
        """The share of rows whose hash is kept."""
        return float(self.bar) / float(np.iinfo(np.uint64).max)


def mix(bits: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: spreads 64-bit keys over all 64 bits (uint64 arithmetic wraps)."""
    z = bits.astype(np.uint64, copy=True)
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def column_hashes(columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """One 64-bit hash per row of each column; numbers hashed by value as float64 (an int 3 and a
    float 3.0 are the same value, and so are -0.0 and 0.0), text by its content."""
    import pandas as pd

    out = {}
    with np.errstate(over="ignore"):
        for name, col in columns.items():
            n = len(col)
            if col.dtype == object:
                out[name] = mix(pd.util.hash_array(np.asarray([str(v) for v in col], dtype=object)))
                continue
            values = np.ascontiguousarray(col.reshape(n, -1), dtype=np.float64) + 0.0
            h = np.zeros(n, dtype=np.uint64)
            for part in values.view(np.uint64).T:
                h = mix(h * np.uint64(0x100000001B3) ^ part)
            out[name] = h
    return out


def quantised(columns: dict[str, np.ndarray], bits: int) -> dict[str, np.ndarray]:
    """Numeric columns with each float64 rounded to `bits` bits of mantissa (relative steps of 2^-bits):
    values that differ by float32 storage or a printed round-off fall, almost always, in the same step.
    Text is kept as it is."""
    out = {}
    drop = np.uint64((1 << (52 - bits)) - 1)
    half = np.uint64(1 << (51 - bits))
    for name, col in columns.items():
        if col.dtype == object:
            out[name] = col
            continue
        values = np.ascontiguousarray(col, dtype=np.float64) + 0.0
        bits64 = values.view(np.uint64)
        with np.errstate(over="ignore"):  # round to nearest: add half a step, then clear the low bits
            rounded = ((bits64 + half) & ~drop).view(np.float64)
        out[name] = np.where(np.isfinite(values), rounded, values)
    return out


def combine(hashes: dict[str, np.ndarray]) -> np.ndarray:
    """The row's hash over its columns' hashes, in column-name order."""
    names = sorted(hashes)
    h = np.zeros(len(hashes[names[0]]), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for name in names:
            h = mix(h * np.uint64(0x100000001B3) ^ hashes[name])
    return h
