"""Where a non-finite step's NaN/Inf came from, as the fields of its record (records.NonfiniteFields)
that judge/nonfinite.py explains: which tensors entering the model (or the loss target), which
gradients, whether the output was finite, and the replay of the step's batch on a copy. `run` and
the Monitor gather what they saw differently (run reads the batch when the loss turns; the Monitor
checks every step on the device and reads at its sync) and record it here the same way.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Iterable

import torch
from torch import nn

from .records import NonfiniteFields
from .replay import first_nonfinite_module
from .stats import nonfinite_summary
from .tape import Tape

MAX_NAMES = 20  # parameters named in `nonfinite_grads`


def nonfinite_inputs(tensors: Iterable[tuple[str, torch.Tensor]], among: list[str] | None = None
                     ) -> dict[str, dict[str, Any] | None]:
    """{name: where it is non-finite} for the non-finite ones of these tensors; with `among` (names
    already known to be non-finite), for those names, None for one no longer held."""
    if among is None:
        return {n: s for n, t in tensors if (s := nonfinite_summary(t))}
    held = dict(tensors)
    return {n: nonfinite_summary(held[n]) if n in held else None for n in among}


def replay(model: nn.Module, args: tuple, kwargs: dict, tape: Tape | None = None) -> dict[str, Any]:
    """The batch replayed on a copy of the model, and through its loss head when on `tape`: the first module
    turning finite inputs into NaN/Inf, and the first torch function."""
    return first_nonfinite_module(model, args, kwargs, tape)


def locate(record: NonfiniteFields | dict[str, Any], *, grads: list[str] = (), n_grads: int | None = None,
           inputs: dict[str, dict[str, Any] | None] | None = None, inputs_checked: int | None = None,
           output_finite: bool | None = None, replayed: Callable[[], dict[str, Any]] | str | None = None) -> None:
    """Write what was seen of a non-finite step into its record. `replayed`: how to replay the batch,
    or why it cannot be; used only when the loss is non-finite and no input was (a non-finite batch
    already explains it)."""
    if grads:
        record["nonfinite_grads"] = list(grads[:MAX_NAMES])
        if (n_grads or len(grads)) > MAX_NAMES:
            record["n_nonfinite_grads"] = n_grads or len(grads)
    if inputs:
        record["nonfinite_inputs"] = inputs
    if inputs_checked is not None:
        record["inputs_checked"] = inputs_checked
    if output_finite is not None:
        record["output_finite"] = output_finite
    loss = record.get("loss")
    if replayed is not None and isinstance(loss, float) and not math.isfinite(loss) and not record.get("nonfinite_inputs"):
        record["replay"] = replayed() if callable(replayed) else {"skipped": replayed}
