"""Do samples stay independent through the loss too? The batch-independence probe follows one sample
through the model; this follows it through the loss computed from the model's outputs (the head on
tape, measure/tape.py): the gradient of the loss with respect to sample i's output must not move when
sample 0's output moves. A softmax or a normalisation taken over the batch axis in the training loop
breaks it, wherever it is written.

Losses that compare samples with each other by design (a call that makes a samples-by-samples table from
the outputs: contrastive losses, in-batch negatives) and heads that run a module in batch-statistics mode (a GAN's discriminator
with BatchNorm) mix samples on purpose and are not judged.
"""

from __future__ import annotations

from typing import Any, TypedDict

import torch
from torch import nn
from torch.utils._pytree import tree_flatten, tree_unflatten

from ..judge import probes as probe_rules
from ..measure.tape import Slot, Tape
from ..vocabulary.finding import Finding
from .axis import changes, noise
from .sandbox import isolated, same_noise
from .setup import NotApplicable, Setup
from .tree import Call, call

NAME = "loss-independence"
_BATCH_STATISTICS = {"batch_norm"}


class LossIndependenceRecord(TypedDict, total=False):
    batch: int
    max_relative_change_other_samples: float
    note: str


def check(model: nn.Module, tape: Tape) -> tuple[list[Finding], LossIndependenceRecord]:
    """Raises NotApplicable when the loss compares samples by design, or the outputs hold no samples."""
    with isolated():
        setup = Setup.build(model, (Call(tape.batch), None))
        if setup.blocked:
            raise NotApplicable(setup.blocked)
        B = setup.need_samples(2)
        by_design = _mixes_by_design(tape, B)
        if by_design:
            raise NotApplicable(by_design)
        ax = setup.axis
        if ax.out_dim is None or ax.out_folded:
            raise NotApplicable(setup.no_output_samples)
        replica = setup.copy_model(train=False)
        with torch.no_grad():
            out = call(replica, Call(tape.batch), seed=0)
        leaves, spec = tree_flatten(out)
        main = next((i for i, t in enumerate(leaves) if isinstance(t, torch.Tensor) and t.dim() > 0), None)
        if main is None or not leaves[main].is_floating_point() or leaves[main].shape[ax.out_dim] != B:
            raise NotApplicable(setup.no_output_samples)
        params = dict(replica.named_parameters())
        base = _grad(tape, leaves, spec, main, ax.out_dim, params, moved=False)
        again = _grad(tape, leaves, spec, main, ax.out_dim, params, moved=False)
        moved = _grad(tape, leaves, spec, main, ax.out_dim, params, moved=True)
    if base is None or moved is None or again is None:
        raise NotApplicable("the loss does not depend on the model's main output")
    if not torch.equal(base, again):
        raise NotApplicable("two identical loss computations gave different gradients")
    others = changes(base.movedim(ax.out_dim, 0), moved.movedim(ax.out_dim, 0))[1:]
    record = LossIndependenceRecord(batch=B, max_relative_change_other_samples=float(others.max()))
    found = probe_rules.loss_mixing(others, B, dict(record))
    if found is None:
        record["note"] = f"the loss gradients of the other {B - 1} samples unchanged"
        return [], record
    return [found], record


def _grad(tape: Tape, leaves: list[Any], spec: Any, main: int, dim: int, params: dict[str, torch.Tensor],
          moved: bool) -> torch.Tensor | None:
    """d loss / d (main output), with sample 0 of the main output moved or not."""
    values = [t.detach().clone() if isinstance(t, torch.Tensor) else t for t in leaves]
    x = values[main]
    if moved:
        gen = torch.Generator().manual_seed(0)
        sample = x.select(dim, 0)
        scale = float(sample.float().std()) if sample.numel() > 1 else 1.0
        sample.add_(noise(torch.randn(sample.shape, generator=gen), sample) * (scale or 1.0))
    x.requires_grad_(True)
    with torch.enable_grad(), same_noise(0):
        loss = tape.loss_of(tree_unflatten(values, spec), params)
        if not loss.requires_grad:
            return None
        grad, = torch.autograd.grad(loss, x, allow_unused=True)
    return grad


def _mixes_by_design(tape: Tape, size: int) -> str | None:
    for op in tape.ops:
        name = getattr(op.func, "__name__", "")
        table = any(shape is not None and sum(d == size for d in shape) >= 2 for shape in op.shapes)
        if table and any(isinstance(x, Slot) for x in op.leaves):
            return (f"the loss compares samples with each other ({name} makes a {size} x {size} table from the "
                    "outputs: in-batch negatives, a similarity matrix)")
        if name in _BATCH_STATISTICS and any(x is True for x in op.leaves):
            return "the loss runs a module with batch statistics (BatchNorm in training mode) on the outputs"
    return None
