"""Is the answer in the input? An integer input equal to the targets at most positions is a clue, not
a verdict: the model may receive its labels only to compute its own loss (a Hugging Face-style
`labels=`), or an autoencoder may be meant to reproduce its input. The experiment tells them apart:
replace that input with other tokens on an eval-mode copy and see whether the outputs move. A model
whose outputs follow the input it could copy the answer from has the answer in its input."""

from __future__ import annotations

from typing import TypedDict

import torch

from ...judge import probes as probe_rules
from ...judge.thresholds import COPIED_TARGETS
from ...measure.stats import tensors_in
from ...vocabulary.finding import Finding
from ..axis import changes
from ..registry import Context, probe
from ..setup import NotApplicable, Setup
from ..tree import tree_map


class TargetCopyRecord(TypedDict, total=False):
    input: str  # the integer input most like the targets
    equal_share: float  # positions where it equals the target
    relative_change: float  # of the outputs when it is replaced
    note: str


@probe("target-copy", order=85, cheap=True,
       about="an integer input equal to the targets: replace it on an eval-mode copy and see if the outputs follow")
def target_copy(setup: Setup, context: Context) -> tuple[list[Finding], TargetCopyRecord]:
    target = setup.targets
    if not isinstance(target, torch.Tensor) or target.is_floating_point():
        raise NotApplicable("no integer targets")
    shares = [(float((t.reshape(-1) == target.reshape(-1)).float().mean()), name, t)
              for name, t in tensors_in(setup.inputs) if not t.is_floating_point() and t.numel() == target.numel()]
    if not shares:
        raise NotApplicable("no integer input of the targets' size")
    share, name, x = max(shares, key=lambda s: s[0])
    record = TargetCopyRecord(input=name, equal_share=share)
    if share < COPIED_TARGETS:
        record["note"] = f"`{name}` equals the targets at {share:.0%} of positions: not a copy"
        return [], record
    low, high = int(x.min()), int(x.max())
    if high <= low:
        raise NotApplicable(f"`{name}` holds one value: nothing to replace it with")
    other = low + (x - low + 1 + torch.randint(0, high - low, x.shape, generator=torch.Generator().manual_seed(0))) % (high - low + 1)
    model = setup.copy_model(train=False)
    with torch.no_grad():
        base = setup.per_sample(setup.forward(model, seed=0))
        moved = setup.per_sample(setup.forward(model, tree_map(setup.inputs, lambda t, _: other if t is x else t), seed=0))
    if base is None or moved is None or moved.shape != base.shape:
        raise NotApplicable(setup.no_output_samples)
    record["relative_change"] = change = float(changes(base, moved).max())
    found = probe_rules.target_copy(change, share, name, record)
    if found is None:
        record["note"] = f"`{name}` equals the targets, but the outputs do not depend on it (it feeds only the loss)"
        return [], record
    return [found], record
