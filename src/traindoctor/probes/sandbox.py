"""What the probes may not do to the user while they run on copies: draw from the user's random streams,
or print the user's warnings again.

`isolated()` is entered once around all the probes of a checkup (and around the batch-mixing probe `run`
repeats on a captured call): the global RNG states are restored afterwards, and every warning raised in
the meantime — the user's forward warning again on a copy, attributed to a line of traindoctor — is
ignored. `catch_warnings` restores the filters on exit, which also makes the per-module registries of
warnings already shown stale, so the user's later warnings show as they would have ("default" and
"once" included): nothing is recorded as shown on the user's behalf.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from typing import Iterator

from ..record.stats import preserved_rng


@contextmanager
def isolated() -> Iterator[None]:
    with preserved_rng(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield
