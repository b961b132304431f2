"""`traindoctor data`: audit a dataset before training on it — statistics per dimension, labels, duplicates,
splits, shift and leakage, read in one streaming pass.

Layout: `sources.py` and `torch_sources.py` read (files, directories, Python objects) into chunks;
`profile.py` makes one bounded-memory pass per split into a `measure.profile.Profile` (accumulators in
`measure/streaming.py`); `roles.py` says which column is the target, time, group or id; `checks.py` holds
the checks per domain (`CHECKS`), the column checks among them from `judge/columns.py`, which `run` and the
Monitor apply to the batches they see;
`audit.py` ties them into a Report; `summary.py` writes the report's `data` section.
"""

from .audit import audit_data
from .sources import DataError

__all__ = ["DataError", "audit_data"]
