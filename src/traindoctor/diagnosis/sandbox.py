"""What the probes may not do to the user while they run on copies: draw from the user's random streams,
or print the user's warnings again; and the same random draws for the forwards a probe compares.

`isolated()` is entered once around all the probes of a checkup (also the ones `run` repeats on the last
call it captured): the global RNG states are restored afterwards, and every warning raised in
the meantime — the user's forward warning again on a copy, attributed to a line of traindoctor — is
ignored. `catch_warnings` restores the filters on exit, which also makes the per-module registries of
warnings already shown stale, so the user's later warnings show as they would have ("default" and
"once" included): nothing is recorded as shown on the user's behalf. The probes also measure the computation
training runs: the fused inference path of nn.MultiheadAttention and nn.TransformerEncoderLayer (taken in eval
under no_grad) is turned off, since where a mask hides every key of a row it makes NaN where training's path
makes numbers — an eval forward of the model would then show nothing at all (`fused_off`).

`same_noise(seed)` is entered around each probe (battery._run_probe), so what a probe draws does not
depend on the caller's RNG state, and around each forward that a probe compares with another (tree.call
with a seed): a model that samples by design (a VAE's reparameterization, a diffusion step's noise, a
policy's action) then draws the same noise in both, so they differ by their inputs, not by their draws.
Training steps (overfit, ablation's fit, the LR range) are not reseeded: each step draws new dropout
masks, as training does.
"""

from __future__ import annotations

import random
import warnings
from contextlib import contextmanager
from typing import Iterator

import numpy as np
import torch

from ..measure.streams import preserved_streams


@contextmanager
def isolated() -> Iterator[None]:
    with preserved_streams(), warnings.catch_warnings(), fused_off():
        warnings.simplefilter("ignore")
        yield


@contextmanager
def fused_off() -> Iterator[None]:
    """torch's attention fast path off, then as it was (torch < 2.2 has no switch: its fast path stays)."""
    mha = getattr(torch.backends, "mha", None)
    if mha is None:
        yield
        return
    was = mha.get_fastpath_enabled()
    mha.set_fastpath_enabled(False)
    try:
        yield
    finally:
        mha.set_fastpath_enabled(was)


@contextmanager
def same_noise(seed: int = 0) -> Iterator[None]:
    """torch's (CPU, and CUDA once the process initialized it), numpy's and Python's generators seeded,
    then restored. CUDA is never initialized here, nor seeded lazily for later (torch.manual_seed would)."""
    with preserved_streams():
        torch.default_generator.manual_seed(seed)
        if torch.cuda.is_initialized():
            torch.cuda.manual_seed_all(seed)
        np.random.seed(seed)
        random.seed(seed)
        yield
