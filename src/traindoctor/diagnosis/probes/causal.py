"""Causal independence: in a next-step task the output at position p must not change when the inputs
from p + k on do (k: how far ahead the targets are; diagnosis/shift.py finds the input, its time axis
and k from the batch, on any layout).

Output p is scored against input p + k, so it may read every input before that one: a model whose
output p sits at its last input p + k - 1 (a valid convolution, a window) is causal. Changing the
inputs from position s on may therefore move the outputs from s - k + 1 on; outputs 0..s - k must
stay. Two forwards of a copy: on the batch, and on the batch with the later inputs changed."""

from __future__ import annotations

import math
from typing import TypedDict

import torch

from ...judge import probes as probe_rules
from ...judge.thresholds import OUTPUT_CHANGE
from ...vocabulary.finding import Finding
from ..axis import batch_dim, perturbed
from ..registry import Context, probe
from ..setup import NotApplicable, Setup
from ..shift import Shift, find
from ..tree import tree_map


class CausalRecord(TypedDict, total=False):
    input: str  # the input changed from `changed_from` on, along `time_dim`
    time_dim: int
    steps: int
    changed_from: int
    outputs_up_to: int  # the output positions 0..this must not move
    relative_change: float
    causal_expected: bool  # given (checkup's causal=) or inferred from next-step targets
    task: str
    weights: str  # when not the trained ones
    note: str


def _next_to_batch(setup: Setup, size: int) -> Shift:
    """No next-step targets: the positions next to the batch axis, one step (for causal=True, and the note)."""
    name, x = setup.primary
    b = batch_dim(x, size, setup.axis.axis)
    if x.dim() < 2 or b is None or b > 1:
        raise NotApplicable("no input with a sequence dimension")
    return Shift(name, x, 1 - b, 1, x.shape[1 - b])


def _tokens(x: torch.Tensor, targets: object) -> bool:
    """Integer ids in and out: tokens, which are predicted one position ahead (a series may be forecast further)."""
    ids = not x.is_floating_point() and not x.is_complex() and x.dtype != torch.bool
    return ids and (not isinstance(targets, torch.Tensor) or not targets.is_floating_point())


def _change(base: torch.Tensor, moved: torch.Tensor, dim: int, last: int) -> float:
    """The largest change of the outputs at positions 0..last along `dim`, relative to the output's scale;
    both over the outputs that are numbers (a mask that hides every key of a later position makes NaN there,
    which says nothing of the earlier ones). NaN when none of them is."""
    early = (moved.narrow(dim, 0, last + 1) - base.narrow(dim, 0, last + 1)).detach().float()
    values = base.detach().float()
    early, values = early[torch.isfinite(early)], values[torch.isfinite(values)]
    if not early.numel():
        return float("nan")
    return float(early.abs().max() / (values.abs().max() + 1e-12))


@probe("causal-independence", order=80, cheap=True,
       about="change the inputs after position t of a next-step task (targets = inputs shifted ahead, found on any "
             "layout) and compare the outputs up to t (they must not change)")
def causal(setup: Setup, context: Context) -> tuple[list[Finding], CausalRecord]:
    size = setup.need_samples(1)
    found_task = find(setup.inputs, setup.targets, size, setup.axis.axis)
    given = context.options.causal
    expected = given if given is not None else found_task is not None
    task = found_task or _next_to_batch(setup, size)
    T, k = task.tensor.shape[task.time], task.steps
    start = min(T - 1, k + task.length // 2)
    last = min(start - k, task.length - 1)
    later = perturbed(task.tensor, task.time, torch.Generator().manual_seed(0), start, T - start) if last >= 0 else None
    if later is None:
        raise NotApplicable(f"input `{task.name}` {tuple(task.tensor.shape)} has no later positions to change")
    changed = tree_map(setup.inputs, lambda v, _: later if v is task.tensor else v)

    def measured(model: torch.nn.Module) -> float:
        with torch.no_grad():
            base = setup.per_sample(setup.forward(model, seed=0))
        if base is None:
            raise NotApplicable(setup.no_output_samples)
        # The output's positions: a dim as long as the targets, else as the input (a model that shifts inside
        # scores its first `length` positions). Where several dims qualify, all of them must show the leak.
        dims = ([d for d in range(1, base.dim()) if base.shape[d] == task.length]
                or [d for d in range(1, base.dim()) if base.shape[d] == T])
        if not dims:
            raise NotApplicable(f"not a per-position model: the output {tuple(base.shape[1:])} per sample holds no "
                                f"{task.length} positions")
        with torch.no_grad():
            moved = setup.per_sample(setup.forward(model, changed, seed=0))
        if moved is None or moved.shape != base.shape:
            raise NotApplicable("the output's shape changes with later inputs")
        return min(_change(base, moved, d, last) for d in dims)

    change, first = measured(setup.copy_model(train=False)), None
    if math.isnan(change) and context.options.start is not None:
        # causality is the architecture's: the weights training started from show it when trained ones make NaN
        model = setup.copy_model(train=False)
        model.load_state_dict(context.options.start)
        change, first = measured(model), "as training started (the trained ones make no finite output)"
    record = CausalRecord(input=task.name, time_dim=task.time, steps=k, changed_from=start, outputs_up_to=last,
                          relative_change=change, causal_expected=expected,
                          task=found_task.describe() if found_task else "no target is an input shifted ahead")
    if first:
        record["weights"] = first
    found = [f for f in (probe_rules.causal_leak(change, expected, record),
                         probe_rules.shifted_too_far(k, found_task is not None and _tokens(task.tensor, setup.targets),
                                                     record)) if f is not None]
    if found:
        return found, record
    record["note"] = ("the outputs up to t are not finite: nothing measured" if math.isnan(change) else
                      "outputs up to t are independent of later inputs" if change <= OUTPUT_CHANGE else
                      "the model is bidirectional (fine unless it must be causal; pass causal=True to require it)")
    return [], record
