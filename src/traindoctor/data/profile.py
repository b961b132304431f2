"""One pass over a split: the statistics every check reads, in bounded memory (measure/profile.py)."""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..judge.thresholds import NEAR_BITS
from ..measure.profile import NUMERIC_SHARE, Profile, add_chunk
from ..measure.streaming import Stretches
from .roles import Roles
from .sources import Source


def profile(source: Source, roles_of: Callable[[list[str]], Roles]) -> Profile:
    """`roles_of`: given the columns, their roles: the group keys' distinct values are collected
    (episode, scene...), and a time column written as text is read as dates."""
    p = Profile(source.name, stretches=Stretches())
    roles: Roles | None = None
    for chunk in source.chunks():
        if not chunk:
            continue
        if roles is None:
            roles = roles_of(list(chunk))
        if roles.time in chunk and chunk[roles.time].dtype.kind in "OUS":
            chunk[roles.time] = _seconds(chunk[roles.time])
        add_chunk(p, chunk, roles.groups, roles.ids, NEAR_BITS)
    p.notes += source.notes
    return p


def _seconds(values: np.ndarray) -> np.ndarray:
    """Dates written as text, as seconds (what cannot be read as a date is missing); numbers stay numbers."""
    import pandas as pd

    numbers = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce")
    if numbers.notna().mean() >= NUMERIC_SHARE:
        return numbers.to_numpy(np.float64)
    dates = pd.to_datetime(pd.Series(values, dtype=object), errors="coerce", format="mixed", utc=True)
    return ((dates - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)).to_numpy(np.float64, na_value=np.nan)


