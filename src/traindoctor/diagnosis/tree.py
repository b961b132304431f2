"""The shapes a batch's inputs come in, and one walk over them."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any, Callable

import torch

from .sandbox import same_noise


class Call(tuple):
    """Inputs given as (args, kwargs): a call no single tensor, tuple or dict expresses."""


def tree_map(obj: Any, fn: Callable[[torch.Tensor, str], torch.Tensor], key: str = "") -> Any:
    """obj rebuilt with every tensor t replaced by fn(t, key), key being its dict key ('' outside dicts)."""
    if isinstance(obj, torch.Tensor):
        return fn(obj, key)
    if isinstance(obj, dict):
        return {k: tree_map(v, fn, k) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        items = [tree_map(v, fn, key) for v in obj]
        return type(obj)(*items) if hasattr(obj, "_fields") else type(obj)(items)  # a namedtuple takes fields
    return obj


def call(model: torch.nn.Module, inputs: Any, seed: int | None = None) -> Any:
    """The model on the inputs; with `seed`, on the random draws of that seed (the same on every call, for
    forwards a probe compares: diagnosis/sandbox.py), else on the draws that follow in the probe's stream."""
    with same_noise(seed) if seed is not None else nullcontext():
        if isinstance(inputs, Call):
            return model(*inputs[0], **inputs[1])
        if isinstance(inputs, dict):
            return model(**inputs)
        if isinstance(inputs, (tuple, list)):
            return model(*inputs)
        return model(inputs)
