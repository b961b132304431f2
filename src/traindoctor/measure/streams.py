"""The global random streams a user's script may have seeded, saved and restored around traindoctor's own
work (do no harm): Python's `random`, numpy's, and torch's (CPU, and CUDA once the process started it).

Torch-free, so `import traindoctor` can use it: only streams of modules already imported are touched (one
that is not imported yet cannot have been seeded), and CUDA is never initialised here (that alone would
change the process)."""

from __future__ import annotations

import random
import sys
from contextlib import contextmanager
from typing import Any, Callable, Iterator


@contextmanager
def preserved_streams() -> Iterator[None]:
    saved: list[tuple[Callable[[Any], Any], Any]] = [(random.setstate, random.getstate())]
    np = sys.modules.get("numpy")
    if np is not None:
        saved.append((np.random.set_state, np.random.get_state()))
    torch = sys.modules.get("torch")
    if torch is not None:
        saved.append((torch.set_rng_state, torch.get_rng_state()))
        if torch.cuda.is_initialized():
            saved.append((torch.cuda.set_rng_state_all, torch.cuda.get_rng_state_all()))
    try:
        yield
    finally:
        for restore, state in saved:
            restore(state)
