"""Does sample i's output depend on sample j? Perturb one sample on an eval-mode copy and see.

Samples are taken along the batch axis decided once for the batch (diagnosis/axis.py), so a
sequence-first model is probed across its batch, not across time. A batch with a samples x samples input
(a graph's adjacency beside its node features) declares that the samples interact: not judged."""

from __future__ import annotations

from typing import TypedDict

import torch

from ...judge import probes as probe_rules
from ...vocabulary.finding import Finding
from ..axis import batch_dim, changes, perturbed
from ..registry import Context, probe
from ..setup import NotApplicable, Setup
from ..tree import tree_map


class _Change(TypedDict):
    input: str  # the input tensor perturbed
    batch: int
    max_relative_change_other_samples: float
    relative_change_perturbed_sample: float


class IndependenceRecord(_Change, total=False):
    note: str


@probe("batch-independence", order=70, cheap=True,
       about="perturb sample 0 along the batch axis (eval-mode copy) and compare the other samples' outputs")
def independence(setup: Setup, context: Context) -> tuple[list[Finding], IndependenceRecord]:
    B = setup.need_samples(2)
    if setup.axis.pairwise:
        raise NotApplicable(f"input {setup.axis.pairwise} holds the samples on two dims (an adjacency, a samples x "
                            "samples mask): the samples interact by design")
    name, x = setup.primary
    y = perturbed(x, batch_dim(x, B, setup.axis.axis), torch.Generator().manual_seed(0))
    if y is None:
        raise NotApplicable(f"input `{name}` cannot be perturbed (constant or non-finite)")
    model = setup.copy_model(train=False)
    with torch.no_grad():
        base, again = setup.per_sample(setup.forward(model, seed=0)), setup.per_sample(setup.forward(model, seed=0))
        moved = setup.per_sample(setup.forward(model, tree_map(setup.inputs, lambda t, _: y if t is x else t), seed=0))
    if base is None or moved is None or moved.shape != base.shape:
        raise NotApplicable(setup.no_output_samples)
    if not torch.equal(base, again):
        raise NotApplicable("two identical eval passes with the same random draws gave different outputs "
                            "(the forward keeps state between calls, or a kernel is nondeterministic)")
    change = changes(base, moved)
    others = change[1:]
    record = IndependenceRecord(input=name, batch=B, max_relative_change_other_samples=float(others.max()),
                                relative_change_perturbed_sample=float(change[0]))
    found = probe_rules.batch_mixing(others, name, B, setup.axis.axis, type(setup.model).__name__, record)
    if found is None:
        record["note"] = f"outputs of the other {B - 1} samples unchanged"
        return [], record
    return [found], record
