"""The policy's draws in the order they were made: the rollout a policy-gradient loss is about.

A ledger of the actions drawn per state cannot tell, where states recur (a handful of one-hot cells), which of the
actions drawn there a row of the loss stands for: every action is drawn everywhere soon enough. The order can. A
loss over a rollout stacks its states (or its actions) in the order they were drawn; found as one contiguous run of
the draws, that run says, row by row, which draw each row is about — and so which action was taken at that state,
or at which state that action was taken.

A run found by chance would pair rows with the wrong draws: one is believed only when the sequence is improbable
under the draws' own frequencies — `_MARGIN` bits beyond what the number of places it could be found at explains.
Where it is found at several places (a state sequence drawn twice), a row may be about any of them."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

_KEPT = 50_000  # rows of draws kept at least, the oldest dropped beyond twice that (a rollout is a few thousand)
_MARGIN = 30.0  # bits of a sequence beyond log2(places): a chance match at most once in 2^30
_NARROW = 64  # candidate places below which the rest of the sequence is compared at once


@dataclass
class Rollout:
    keys: np.ndarray = field(default_factory=lambda: np.zeros((2, 2 * _KEPT), dtype=np.int64))  # states; actions
    size: int = 0  # rows of `keys` filled, oldest first
    counts: tuple[Counter, Counter] = field(default_factory=lambda: (Counter(), Counter()))

    def drew(self, states: list[int], actions: list[int]) -> None:
        new = np.array([states, actions], dtype=np.int64)
        n = new.shape[1]
        if self.size + n > self.keys.shape[1]:  # full: the newest rows up to _KEPT move to the front
            keep = max(0, min(self.size, _KEPT - n))
            for count, old in zip(self.counts, self.keys[:, : self.size - keep]):
                count.subtract(old.tolist())
            self.keys[:, :keep] = self.keys[:, self.size - keep: self.size]
            self.size = keep
            if n > self.keys.shape[1]:
                self.keys = np.zeros((2, n), dtype=np.int64)
        self.keys[:, self.size: self.size + n] = new
        self.size += n
        for count, keys in zip(self.counts, new):
            count.update(keys.tolist())

    def aligned(self, keys: list[int], which: int) -> np.ndarray | None:
        """The places (row offsets into the draws) where `keys` — states (`which` 0) or actions (1) — occur as one
        contiguous run, when the sequence is informative enough to be believed; None when it is not found."""
        n = len(keys)
        if n > self.size or self.size == 0:
            return None
        count = self.counts[which]
        bits = sum(-math.log2(max(count[k], 1) / self.size) for k in keys)
        if bits < math.log2(self.size) + _MARGIN:
            return None
        seq, want = self.keys[which, : self.size], np.array(keys, dtype=np.int64)
        places = np.flatnonzero(seq[: self.size - n + 1] == want[0])
        j = 1
        while len(places) > _NARROW and j < n:  # each row compared thins the places geometrically
            places = places[seq[places + j] == want[j]]
            j += 1
        if len(places) and j < n:
            places = places[(seq[places[:, None] + np.arange(j, n)] == want[j:]).all(1)]
        return places if len(places) else None

    def at(self, places: np.ndarray, n: int, which: int) -> list[set[int]]:
        """Per row of a run of `n` found at `places`, the states (`which` 0) or actions (1) drawn there."""
        rows = self.keys[which][places[:, None] + np.arange(n)]
        return [set(col.tolist()) for col in rows.T]
