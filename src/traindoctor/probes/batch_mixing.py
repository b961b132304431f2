"""Does sample i's output depend on sample j? Perturb one sample on an eval-mode copy and see."""

from __future__ import annotations

import copy
import time
from typing import Any

import torch
from torch import nn

from ..findings import Finding, finding
from ..record.stats import batch_tensors, first_tensor, preserved_rng

RELATIVE_TOL = 1e-5
_SEQUENCE_FIRST = (nn.RNNBase, nn.MultiheadAttention)  # transformer layers hold a MultiheadAttention


def _perturbed(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor | None:
    y = x.clone()
    if x.dtype == torch.bool:
        y[0] = ~x[0]
    elif x.is_floating_point():
        if not torch.isfinite(x).all():
            return None
        y[0] = x[0] + torch.randn(x[0].shape, generator=gen).to(x.dtype) * (x.float().std() + 1e-3)
    else:
        lo, hi = int(x.min()), int(x.max())
        if hi == lo:
            return None
        y[0] = torch.randint(lo, hi + 1, x[0].shape, generator=gen).to(x.dtype)
    return None if torch.equal(x[0], y[0]) else y


def _skip(note: str, started: float) -> tuple[None, dict[str, Any]]:
    return None, {"name": "batch-mixing", "status": "skipped", "note": note, "seconds": round(time.monotonic() - started, 3)}


def probe(module: nn.Module, args: tuple, kwargs: dict, source: str = "run") -> tuple[Finding | None, dict[str, Any]]:
    started = time.monotonic()
    seq_first = [n for n, m in module.named_modules() if isinstance(m, _SEQUENCE_FIRST) and not getattr(m, "batch_first", False)]
    if seq_first:
        return _skip(f"`{seq_first[0]}` is sequence-first, so the batch dimension is ambiguous", started)
    found = next(((name, t) for name, t in batch_tensors(args, kwargs) if t.dim() >= 1 and t.shape[0] >= 2), None)
    if found is None:
        return _skip("no input tensor with a batch of at least 2 samples", started)
    name, x = found
    try:
        replica = copy.deepcopy(module).eval()
    except Exception as exc:
        return _skip(f"could not copy the model ({type(exc).__name__})", started)
    gen = torch.Generator().manual_seed(0)
    x2 = _perturbed(x, gen)
    if x2 is None:
        return _skip(f"input `{name}` cannot be perturbed (constant or non-finite)", started)

    def forward(replacement: torch.Tensor) -> torch.Tensor | None:
        swap = lambda obj: replacement if obj is x else obj  # noqa: E731
        out = replica(*[swap(a) for a in args], **{k: swap(v) for k, v in kwargs.items()})
        t = first_tensor(out)
        return t.detach().float() if t is not None else None

    try:
        with preserved_rng(), torch.no_grad():
            base, again, moved = forward(x), forward(x), forward(x2)
    except Exception as exc:
        return _skip(f"the model could not be re-run on the captured batch ({type(exc).__name__}: {exc})", started)
    B = x.shape[0]
    if base is None or base.dim() == 0 or base.shape[0] != B:
        return _skip("the output's first dimension is not the batch", started)
    if not torch.equal(base, again):
        return _skip("two identical eval passes gave different outputs (the model is nondeterministic)", started)
    scale = float(base.abs().max()) + 1e-12
    change = (moved - base).abs().reshape(B, -1).amax(1) / scale
    others = change[1:]
    record = {"name": "batch-mixing", "status": "ran", "input": name, "batch": B,
              "max_relative_change_other_samples": float(others.max()),
              "relative_change_perturbed_sample": float(change[0]), "seconds": round(time.monotonic() - started, 3)}
    affected = int((others > RELATIVE_TOL).sum())
    if not affected:
        record["note"] = f"outputs of the other {B - 1} samples unchanged"
        return None, record
    return finding(
        "batch-mixing",
        f"perturbing sample 0 of input `{name}` (batch of {B}, model copy in eval mode) changed the outputs of "
        f"{affected} of the other {B - 1} samples (max relative change {float(others.max()):.2g})",
        source, evidence=record, location={"module": type(module).__name__},
    ), record
