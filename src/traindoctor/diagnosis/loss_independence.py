"""Do samples stay independent through the loss too? The batch-independence probe follows one sample
through the model; this follows it through the loss computed from the model's outputs (the head on
tape, measure/tape.py): the gradient of the loss with respect to sample i's output must not move when
sample 0's output moves. A softmax or a normalisation taken over the batch axis in the training loop
breaks it, wherever it is written. Where the model alone could not tell dims 0 and 1 of its input apart (an
embedding reads (T, B) ids position by position), the dim the loss keeps apart holds the samples: a
sequence-first LSTM run after it in the loop mixes positions along the other.

The targets' alignment asks the same of the targets: changing sample 0's targets may turn only sample 0's
gradient. A value computed without gradient from several samples' targets (a batch-mean baseline, advantages
normalised over the batch) reaches every sample by design: it is held as it was, since no one sample's target
in it is paired with another sample's output.

Losses that compare samples with each other by design (a call that makes a samples-by-samples table from
the outputs: contrastive losses, in-batch negatives) and heads that run a module in batch-statistics mode (a GAN's discriminator
with BatchNorm) mix samples on purpose and are not judged.
"""

from __future__ import annotations

from typing import Any, NamedTuple, TypedDict

import torch
from torch import nn
from torch.utils._pytree import tree_flatten, tree_unflatten

from ..judge import probes as probe_rules
from ..measure.tape import Const, Tape
from ..vocabulary.finding import Finding
from .axis import batch_dim, changes
from .sandbox import isolated, same_noise
from .setup import NotApplicable, Setup
from .shift import find
from .tree import Call, call

NAME = "loss-independence"
_BATCH_STATISTICS = {"batch_norm"}


class LossIndependenceRecord(TypedDict, total=False):
    batch: int
    max_relative_change_other_samples: float
    # alignment: sample 0's targets changed in each torch loss function's `target`
    targets_changed: list[str]  # the calls whose target (or entry-by-entry operand) was changed
    alignment_change_other_samples: float  # the most any other sample's gradient turned (1 - cosine)
    alignment_change_own_sample: float
    note: str


def check(model: nn.Module, tape: Tape) -> tuple[list[Finding], LossIndependenceRecord]:
    """Raises NotApplicable when the loss compares samples by design, or the outputs hold no samples."""
    m = _mixing(model, tape)
    record, found = _judged(m)
    undecided = m.setup.axis.undecided
    if found is not None and undecided is not None:
        # the model alone could not tell which dim holds the samples: the one the loss keeps apart does
        other = _mixing(model, tape, undecided)
        other_record, other_found = _judged(other)
        if other_found is None:
            m, record, found = other, other_record, None
            record["note"] = (f"the loss mixes positions along dim {1 - undecided} of the model's input, not along "
                              f"dim {undecided}: the samples are there (the model alone could not tell); ")
    if found is not None:
        return [found], record
    B = m.setup.axis.size
    record["note"] = record.get("note", "") + f"the loss gradients of the other {B - 1} samples unchanged"
    with isolated():
        aligned = _alignment(tape, m.leaves, m.spec, m.setup.axis, m.params)
    if aligned is None:
        return [], record
    names, change = aligned
    record.update(targets_changed=names, alignment_change_other_samples=float(change[1:].max()),
                  alignment_change_own_sample=float(change[0]))
    misaligned = probe_rules.targets_misaligned(change[1:], float(change[0]), names, B, dict(record))
    return ([misaligned] if misaligned else []), record


def _judged(m: "_Mixing") -> tuple[LossIndependenceRecord, Finding | None]:
    B = m.setup.axis.size
    record = LossIndependenceRecord(batch=B, max_relative_change_other_samples=float(m.others.max()))
    return record, probe_rules.loss_mixing(m.others, B, dict(record))


class _Mixing(NamedTuple):
    setup: Setup
    leaves: list[Any]
    spec: Any
    params: dict[str, torch.Tensor]
    others: torch.Tensor  # per other sample: how far its gradient moved when sample 0's output did


def _mixing(model: nn.Module, tape: Tape, axis: int | None = None) -> _Mixing:
    """The loss gradients of the other samples when sample 0's output moves, the samples along `axis` (None:
    as Setup decides)."""
    with isolated():
        setup = Setup.build(model, (Call(tape.batch), None), axis=axis)
        if setup.blocked:
            raise NotApplicable(setup.blocked)
        B = setup.need_samples(2)
        batch_statistics = _batch_statistics(tape)
        if batch_statistics:
            raise NotApplicable(batch_statistics)
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
        table = _samples_table(tape, leaves, spec, main, ax.out_dim, params)
        if table:
            raise NotApplicable(table)
        base, held = _grad(tape, leaves, spec, main, ax.out_dim, params, moved=False)
        again, _ = _grad(tape, leaves, spec, main, ax.out_dim, params, moved=False)
        moved, _ = _grad(tape, leaves, spec, main, ax.out_dim, params, moved=True, held=held)
    if base is None or again is None:
        raise NotApplicable("the loss does not depend on the model's main output")
    if moved is None:
        raise NotApplicable("every sample has the same output (or the loss does not depend on it): nothing to move")
    if not torch.equal(base, again):
        raise NotApplicable("two identical loss computations gave different gradients")
    others = changes(base.movedim(ax.out_dim, 0), moved.movedim(ax.out_dim, 0))[1:]
    return _Mixing(setup, leaves, spec, params, others)


def _grad(tape: Tape, leaves: list[Any], spec: Any, main: int, dim: int, params: dict[str, torch.Tensor],
          moved: bool, held: dict[int, Any] | None = None) -> tuple[torch.Tensor | None, dict[int, Any]]:
    """d loss / d (main output), with sample 0 of the main output moved or not; and the values the loss head
    computed without gradient (sampled actions, rewards, a baseline or a normaliser taken under no_grad).
    `held`: those values kept as they were. A perturbation that reaches another sample only through them
    reweights that sample's gradient (a batch-mean baseline, normalised advantages): it does not mix the
    samples' computation, and is not what this probe asks about."""
    values = [t.detach().clone() if isinstance(t, torch.Tensor) else t for t in leaves]
    x = values[main]
    if moved and not _take_another(x, dim):
        return None, {}  # every sample has the same output: nothing to move
    x.requires_grad_(True)
    with torch.enable_grad(), same_noise(0):
        computed = tape.values_of(tree_unflatten(values, spec), params, held=held)
        loss = computed.get(tape.loss)
        if not isinstance(loss, torch.Tensor) or not loss.requires_grad:
            return None, {}
        grad, = torch.autograd.grad(loss, x, allow_unused=True)
    return grad, _without_gradient(tape, computed)


def _without_gradient(tape: Tape, computed: dict[int, Any]) -> dict[int, Any]:
    """The values the loss head computed without gradient from the outputs that require it."""
    return {slot: v for slot, v in computed.items()
            if isinstance(v, torch.Tensor) and not v.requires_grad and slot not in tape.inputs}


# torch's loss functions whose `target` is compared element by element with the input.
ELEMENTWISE = frozenset({"cross_entropy", "nll_loss", "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss",
                          "binary_cross_entropy", "binary_cross_entropy_with_logits", "soft_margin_loss",
                          "poisson_nll_loss"})


def _alignment(tape: Tape, leaves: list[Any], spec: Any, ax: Any, params: dict[str, torch.Tensor]
               ) -> tuple[list[str], torch.Tensor] | None:
    """Sample 0's entries of every torch loss function's recorded target, and of every other tensor the loss
    combines entry by entry with the outputs (a hand-written loss's targets, a mask), changed: per sample, how
    far the loss gradient on its outputs (every output with the samples on the main one's dim: an actor's
    logits and a critic's values) turned. Each must meet its own sample's outputs, so only sample 0's gradient
    may move — but for the values computed without gradient that pool several samples' targets, kept as they
    were. None when no such tensor of the batch's samples was found."""
    replaced: dict[int, torch.Tensor] = {}
    others: dict[int, torch.Tensor] = {}
    names = []
    for name, const in tape.target_consts(ELEMENTWISE) + tape.entrywise_consts():
        target = const.value
        if id(target) in replaced:
            continue
        changed = _samples_changed(target, ax.size, ax.axis, const.base_shape, tape.batch)
        if changed is not None:
            replaced[id(target)], others[id(target)] = changed
            names.append(name)
    if not replaced:
        return None
    values = [t.detach().clone() if isinstance(t, torch.Tensor) else t for t in leaves]
    outputs = [t.requires_grad_(True) for t in values if isinstance(t, torch.Tensor) and t.is_floating_point()
               and t.dim() > ax.out_dim and t.shape[ax.out_dim] == ax.size]
    with torch.enable_grad(), same_noise(0):
        held = _without_gradient(tape, tape.values_of(tree_unflatten(values, spec), params))
    pooled = _pooled(tape, tree_unflatten(values, spec), params, held, replaced, others)

    def per_sample(constants: dict[int, torch.Tensor] | None) -> torch.Tensor | None:
        """d loss / d outputs, one row per sample."""
        with torch.enable_grad(), same_noise(0):
            loss = tape.values_of(tree_unflatten(values, spec), params, constants=constants, held=pooled).get(tape.loss)
            if not isinstance(loss, torch.Tensor) or not loss.requires_grad:
                return None
            grads = torch.autograd.grad(loss, outputs, allow_unused=True)
        rows = [(torch.zeros_like(t) if g is None else g).movedim(ax.out_dim, 0).reshape(ax.size, -1)
                for t, g in zip(outputs, grads)]
        grad = torch.cat(rows, 1)
        return grad if bool(torch.isfinite(grad).all()) else None

    base, grad = per_sample(None), per_sample(replaced)
    if base is None or grad is None:
        return None
    return names, _turned(base, grad)


def _pooled(tape: Tape, output: Any, params: dict[str, torch.Tensor], held: dict[int, Any],
            sample0: dict[int, torch.Tensor], others: dict[int, torch.Tensor]) -> dict[int, Any]:
    """Of the values computed without gradient (`held`, as recorded), those that pool several samples' targets:
    an entry moves both when sample 0's targets change and when the other samples' do. A value that keeps the
    samples apart, in their layout or scrambled, has each entry moved by one sample's targets only. Found
    earliest first, each held before the next is looked for: what is computed from a pooled value (the
    returns minus a batch-mean baseline) moves everywhere through it, not by pooling targets itself."""
    def moved(before: torch.Tensor, after: Any) -> torch.Tensor | None:
        if not isinstance(after, torch.Tensor) or after.shape != before.shape:
            return None
        return ~((before == after) | (before.isnan() & after.isnan())) if before.is_floating_point() else before != after

    pooled: dict[int, Any] = {}
    while True:
        by0, by_others = (_replayed(tape, output, params, changed, pooled) for changed in (sample0, others))
        shared = [slot for slot, value in held.items() if slot not in pooled
                  and (a := moved(value, by0.get(slot))) is not None and (b := moved(value, by_others.get(slot))) is not None
                  and bool((a & b).any())]
        if not shared:
            return pooled
        first = min(shared)  # slots are numbered as the loss head made them
        pooled[first] = held[first]


def _replayed(tape: Tape, output: Any, params: dict[str, torch.Tensor], constants: dict[int, torch.Tensor],
              held: dict[int, Any]) -> dict[int, Any]:
    with torch.no_grad(), same_noise(0):  # each replay draws the same actions as the recorded one
        return tape.values_of(output, params, constants=constants, held=held)


def _turned(base: torch.Tensor, moved: torch.Tensor) -> torch.Tensor:
    """Per sample, how far its gradient turned: 1 - cosine. A loss normalised by its targets (class weights
    under a mean) rescales every sample's gradient when one target changes; only a misaligned one turns them."""
    a, b = base.detach().reshape(base.shape[0], -1).double(), moved.detach().reshape(moved.shape[0], -1).double()
    na, nb = a.norm(dim=1), b.norm(dim=1)
    cos = (a * b).sum(1) / (na * nb).clamp_min(1e-300)
    turned = (1 - cos).clamp_min(0)
    # A sample with no gradient before and after (an ignored target, a saturated prediction) did not turn;
    # one that gained or lost its gradient did.
    turned[(na == 0) & (nb == 0)] = 0
    turned[(na == 0) != (nb == 0)] = 1
    return turned.float()


def _take_another(t: torch.Tensor, dim: int) -> bool:
    """Sample 0 of t (in place) replaced by another sample's values: a value the model or the data really
    produce, so a loss with a domain (BCE's probabilities and labels, class indices) still accepts it. False
    when every sample holds the same values (no other value is known to be valid)."""
    sample = t.select(dim, 0)
    donor = next((t.select(dim, i) for i in range(1, t.shape[dim]) if not torch.equal(t.select(dim, i), sample)), None)
    if donor is None:
        return False
    sample.copy_(donor)
    return True


def _samples_changed(t: torch.Tensor, size: int, axis: int, base_shape: tuple[int, ...] | None = None,
                     inputs: Any = None) -> tuple[torch.Tensor, torch.Tensor] | None:
    """t with sample 0's entries replaced by another sample's along its batch dim, and t with every other
    sample's entries replaced (rotated among themselves; with two samples, sample 1's by sample 0's). A target
    reshaped for the loss is changed in the layout it was reshaped from (`base_shape`, when the reshape was
    seen or t is a view of a whole tensor): which entries were sample 0's is a fact of that layout, whether t
    is flat or was viewed into a shape of its own ((T, B) targets reshaped to (B, T)). Not changed: a flat
    target whose layout before flattening is unknown (flattened before the model ran), nor one whose first
    two dims both have the batch's size — unless it is one of the `inputs` shifted ahead (next-token targets
    sliced from the batch, diagnosis/shift.py): its samples are then where that input holds them."""
    if t.dim() == 0 or t.numel() == 0:
        return None
    for laid in ([t.reshape(base_shape)] if base_shape is not None else []) + [t]:
        if laid.dim() >= 2 and laid.shape[0] == laid.shape[1] == size and find(inputs, laid, size, axis) is None:
            return None
        dim = batch_dim(laid, size, axis)
        if dim is not None:
            out = laid.clone()
            if not _take_another(out, dim):
                return None
            rest = laid.narrow(dim, 1, size - 1)
            others = torch.cat([laid.narrow(dim, 0, 1), rest.roll(1, dim) if size > 2 else laid.narrow(dim, 0, 1)], dim)
            return out.reshape(t.shape), others.reshape(t.shape)
    return None


# Calls that pair every row of one operand with every row (column) of the other.
_PAIRWISE = frozenset({"mm", "matmul", "bmm", "cdist", "einsum", "__matmul__", "__rmatmul__"})


def _samples_table(tape: Tape, leaves: list[Any], spec: Any, main: int, dim: int,
                   params: dict[str, torch.Tensor]) -> str | None:
    """Why the loss compares samples by design, or None: a pairwise call whose result has two dims that both
    come from the outputs' samples (a similarity table of B, or of 2B concatenated views, in-batch negatives).
    Which dims come from the samples is read off the loss replayed on one sample fewer: those that shrank.
    The samples are cut from every output laid out as the main one (CLIP's two towers), from every tensor the
    loss read in that layout or its transpose (a momentum encoder's keys, the other tower's `.t()`), and, when
    the model was called more than once for
    this loss, from every tensor with the samples on the output's dim (the other views' outputs, held as
    constants on the tape)."""
    calls = [op for op in tape.ops if getattr(op.func, "__name__", "") in _PAIRWISE]
    if not calls:
        return None
    shape, size = leaves[main].shape, leaves[main].shape[dim]

    def of_samples(t: Any, views: bool = False) -> bool:
        return isinstance(t, torch.Tensor) and (t.shape == shape or views and t.dim() > dim and t.shape[dim] == size)

    def sample_dim(t: torch.Tensor) -> int | None:
        """Where a tensor the loss read holds the samples: the output's dim when laid out as the output (or, for a
        partial tape, with the samples there); its one dim of the batch's size when it is the output's layout
        transposed (the other tower's embeddings, `.t()` taken before the tape)."""
        if of_samples(t, views=tape.partial):
            return dim
        if sorted(t.shape) == sorted(shape) and list(t.shape).count(size) == 1:
            return list(t.shape).index(size)
        return None

    def fewer_samples(t: Any) -> Any:
        return t.detach().narrow(dim, 0, size - 1).clone() if of_samples(t) else t  # the tape may write in place

    others = {id(x.value): x.value.narrow(d, 0, size - 1) for op in tape.ops for x in op.leaves
              if isinstance(x, Const) and (d := sample_dim(x.value)) is not None}
    with torch.no_grad(), same_noise(0):
        fewer = tape.values_of(tree_unflatten([fewer_samples(t) for t in leaves], spec), params,
                               constants=others, tolerant=True)
    for op in calls:
        recorded, got = op.shapes[0], fewer.get(op.outs[0]) if op.outs else None
        if recorded is None or not isinstance(got, torch.Tensor) or got.dim() != len(recorded):
            continue
        samples = [n for n, m in zip(recorded, got.shape) if n != m]
        if len(samples) >= 2:
            return (f"the loss compares samples with each other ({op.func.__name__} makes a {samples[0]} x "
                    f"{samples[1]} table of the outputs' samples: in-batch negatives, a similarity matrix)")
    return None


def _batch_statistics(tape: Tape) -> str | None:
    for op in tape.ops:
        if getattr(op.func, "__name__", "") in _BATCH_STATISTICS and any(x is True for x in op.leaves):
            return "the loss runs a module with batch statistics (BatchNorm in training mode) on the outputs"
    return None
