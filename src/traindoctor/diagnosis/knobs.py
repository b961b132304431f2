"""Regularisers that are settings, not terms of the loss: dropout (the probability the forward drops a unit
with) and label smoothing (the share of each target spread over the classes). The regularisation-off arm
(diagnosis/experiments.py) turns them off as it turns off weight decay and the penalties written into the
loss: `off()` makes every dropout call of the forward the identity — nn.Dropout and its kin call the
functional ones, so modules and calls written into the forward alike — and the tape replays the loss
without smoothing (measure/tape.py)."""

from __future__ import annotations

import inspect
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

DROPOUTS = frozenset({F.dropout, F.dropout1d, F.dropout2d, F.dropout3d, F.alpha_dropout, F.feature_alpha_dropout})


class _Off(TorchFunctionMode):
    def __torch_function__(self, func: Callable, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        if func in DROPOUTS:
            return args[0] if args else kwargs["input"]
        return func(*args, **kwargs)


class _Seen(TorchFunctionMode):
    """The dropout probabilities a forward trains with, and the (smoothing, classes) of each cross-entropy
    the loss smooths."""

    def __init__(self) -> None:
        super().__init__()
        self.dropout: list[float] = []
        self.smoothing: list[tuple[float, int]] = []

    def __torch_function__(self, func: Callable, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        if func in DROPOUTS or func is F.cross_entropy:
            bound = inspect.signature(func).bind(*args, **kwargs)
            bound.apply_defaults()
            a = bound.arguments
            if func is F.cross_entropy and a["label_smoothing"] > 0:
                logits = a["input"]
                self.smoothing.append((float(a["label_smoothing"]), int(logits.shape[1 if logits.dim() > 1 else 0])))
            elif func is not F.cross_entropy and a["training"] and a["p"] > 0:
                self.dropout.append(float(a["p"]))
        return func(*args, **kwargs)


@contextmanager
def off() -> Iterator[None]:
    """Every dropout call the identity: the model as it computes with dropout off, in train mode otherwise."""
    with _Off():
        yield


@contextmanager
def seen() -> Iterator[_Seen]:
    with _Seen() as mode:
        yield mode
