"""Replay a batch on a copy of the model to name the first module that produces NaN/Inf."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .copies import independent_copy
from .stats import tensors_in
from .streams import preserved_streams


def _finite(obj: Any) -> bool:
    return all(torch.isfinite(t).all() for _, t in tensors_in(obj) if t.is_floating_point())


def first_nonfinite_module(module: nn.Module, args: tuple, kwargs: dict) -> dict[str, Any]:
    """Run the batch through an independent copy (measure/copies.py) with forward hooks; the user's model
    is untouched.

    Hooks fire after each module returns (innermost first), so the first module whose
    inputs are finite and outputs are not is where the non-finite value is born.
    """
    try:
        replica = independent_copy(module)
    except Exception as exc:  # e.g. modules holding locks or file handles
        return {"skipped": f"could not copy the model for replay ({type(exc).__name__}: {exc})"}
    found: dict[str, Any] = {}
    names = {m: n for n, m in replica.named_modules()}

    def hook(m: nn.Module, inputs: tuple, output: Any) -> None:
        if not found and _finite(inputs) and not _finite(output):
            found.update(module=names[m] or "<model>", type=type(m).__name__)

    handles = [m.register_forward_hook(hook) for m in replica.modules()]
    try:
        with preserved_streams(), torch.no_grad():
            out = replica(*args, **kwargs)
    except Exception as exc:
        return {"skipped": f"replay failed ({type(exc).__name__}: {exc})"}
    finally:
        for h in handles:
            h.remove()
    if found:
        return found
    return {"module": None, "output_finite": _finite(out)}
