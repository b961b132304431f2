"""Is the answer in the input? An input equal to the targets at most positions is a clue, not a verdict:
the model may receive its labels only to compute its own loss (a Hugging Face-style `labels=`), or an
autoencoder may be meant to reproduce its input. The experiments tell them apart:
- replace that input (other tokens; for floats, another sample's values) on an eval-mode copy and see
  whether the outputs move — a model whose outputs do not follow it cannot copy from it. Along its
  positions only the last one is replaced: the output scored against target p copies it only by reading
  input p, and the last input is read by no output of a model that reads each position for the ones after
  it (a decoder fed its targets and shifting them right inside, as teacher forcing does);
- for floating targets, reproducing the input is the task of an autoencoder, and it is a task only through a
  layer narrower than the targets that all of the input's information must pass: hold such a layer's output
  at what it was and change the inputs — if the outputs stay put, the model reconstructs through a
  bottleneck (quiet); if no such layer exists, the model can carry its input to its output at full width and
  the loss rewards a copy (a denoiser scored against its noisy input rather than the noise or the clean
  sample)."""

from __future__ import annotations

from typing import TypedDict

import torch

from ...judge import probes as probe_rules
from ...judge.thresholds import COPIED_TARGETS, OUTPUT_CHANGE
from ...measure.stats import tensors_in
from ...vocabulary.finding import Finding
from ..axis import batch_dim, changes
from ..registry import Context, probe
from ..setup import NotApplicable, Setup, main_output
from ..tree import tree_map
from .capacity import TRIED, layer_widths


class TargetCopyRecord(TypedDict, total=False):
    input: str  # the input most like the targets
    equal_share: float  # positions where it equals the target
    relative_change: float  # of the outputs when it is replaced
    floating: bool  # floating targets (a regression or reconstruction), else class indices
    bottleneck: str  # floating targets: the layer narrower than them that all of the input passes through
    note: str


@probe("target-copy", order=85, cheap=True,
       about="an input equal to the targets: replace it on an eval-mode copy and see if the outputs follow; "
             "for floating targets, whether a bottleneck makes reproducing it a task")
def target_copy(setup: Setup, context: Context) -> tuple[list[Finding], TargetCopyRecord]:
    target = setup.targets
    if not isinstance(target, torch.Tensor):
        raise NotApplicable("no target tensor")
    floating = target.is_floating_point()
    shares = [(_equal_share(t, target), name, t) for name, t in tensors_in(setup.inputs)
              if t.is_floating_point() == floating and t.numel() == target.numel()]
    if not shares:
        raise NotApplicable(f"no {'floating' if floating else 'integer'} input of the targets' size")
    share, name, x = max(shares, key=lambda s: s[0])
    record = TargetCopyRecord(input=name, equal_share=share, floating=floating)
    if share < COPIED_TARGETS:
        record["note"] = f"`{name}` equals the targets at {share:.0%} of positions: not a copy"
        return [], record
    other = _other_values(x, setup)
    model = setup.copy_model(train=False)
    with torch.no_grad():
        base = setup.per_sample(setup.forward(model, seed=0))
    change = min(_followed(model, setup, x, replaced, base) for replaced in _at_last(x, other, setup))
    record["relative_change"] = change
    if floating and change > OUTPUT_CHANGE and (owner := _hand_written_matrices(model)):
        # Its own matrices are layers no hook sees: a code they make (a tied autoencoder's F.linear(x, W))
        # cannot be held, so a copy cannot be told from a reconstruction.
        raise NotApplicable(f"`{owner}` computes with matrices of its own outside any layer: whether all of "
                            f"`{name}` passes through something narrower than the targets cannot be seen")
    if floating and change > OUTPUT_CHANGE and (layer := _bottleneck(model, setup, x, other, target)):
        record["bottleneck"] = layer
        record["note"] = f"`{name}` equals the targets, and all of it passes through `{layer}`, narrower than " \
                         "them: a reconstruction through a bottleneck (an autoencoder), not a copy"
        return [], record
    found = probe_rules.target_copy(change, share, name, record)
    if found is None:
        record["note"] = (f"`{name}` equals the targets, but no output reads its last position: it feeds only the "
                          "loss, or each position is read for the ones after it (shifted inside)")
        return [], record
    return [found], record


def _at_last(x: torch.Tensor, other: torch.Tensor, setup: Setup) -> list[torch.Tensor]:
    """x with `other`'s values at the last position along each of its dims but the samples' (all of it when
    it has no such dim): the copies whose outputs must all move for the model to copy the targets."""
    b = batch_dim(x, setup.axis.size, setup.axis.axis) if setup.axis.axis is not None else None
    dims = [d for d in range(x.dim()) if d != b and x.shape[d] > 1]
    copies = []
    for d in dims:
        y = x.clone()
        y.narrow(d, -1, 1).copy_(other.narrow(d, -1, 1))
        copies.append(y)
    return copies or [other]


def _followed(model: torch.nn.Module, setup: Setup, x: torch.Tensor, replaced: torch.Tensor,
              base: torch.Tensor | None) -> float:
    """How far the outputs move with x replaced, relative to their scale."""
    with torch.no_grad():
        moved = setup.per_sample(setup.forward(model, tree_map(setup.inputs, lambda t, _: replaced if t is x else t),
                                               seed=0))
    if base is None or moved is None or moved.shape != base.shape:
        raise NotApplicable(setup.no_output_samples)
    return float(changes(base, moved).max())


def _equal_share(x: torch.Tensor, target: torch.Tensor) -> float:
    x, y = x.detach().reshape(-1), target.detach().reshape(-1)
    if not x.is_floating_point():
        return float((x == y).float().mean())
    return float(torch.isclose(x.double(), y.double(), rtol=1e-5, atol=1e-8).double().mean())


def _other_values(x: torch.Tensor, setup: Setup) -> torch.Tensor:
    """What replaces the copied input: at each position another of the values it holds (the numbers between
    them need not be valid: -100, the positions a loss ignores, beside class indices); for floats, the next
    sample's values."""
    if x.is_floating_point():
        dim = setup.axis.axis
        if dim is None or x.dim() <= dim or x.shape[dim] < 2:
            raise NotApplicable("one sample: no other sample's values to put in its place")
        return x.roll(1, dim)
    values = x.unique()
    if len(values) < 2:
        raise NotApplicable("the input holds one value: nothing to replace it with")
    g = torch.Generator().manual_seed(0)
    shift = 1 + torch.randint(0, len(values) - 1, x.shape, generator=g, device=x.device)
    return values[(torch.searchsorted(values, x) + shift) % len(values)]


def _hand_written_matrices(model: torch.nn.Module) -> str | None:
    """The first module written by the user that owns a trainable matrix directly (not through a torch layer)."""
    for name, module in model.named_modules():
        if type(module).__module__.startswith("torch.nn"):
            continue
        if any(p.requires_grad and p.dim() >= 2 for p in module.parameters(recurse=False)):
            return name or type(module).__name__
    return None


def _bottleneck(model: torch.nn.Module, setup: Setup, x: torch.Tensor, other: torch.Tensor,
                target: torch.Tensor) -> str | None:
    """Trainable layers narrower than the targets' values per sample whose outputs, held at what they were
    for the real inputs, keep the outputs unchanged when the inputs change: all of the input passes through
    them. One layer at a time, then the narrow layers together while their widths add up to less than the
    targets' (a VAE's mean and log-variance heads: the code is drawn from both, and neither alone carries
    it). The same seed in both forwards keeps a sampling model's noise the same (a VAE's draw)."""
    per_sample = target.numel() // max(setup.axis.size, 1)
    narrow = sorted((w, n) for n, w in layer_widths(model, setup).items() if w < per_sample)[:TRIED]
    for _, layer in narrow:
        if _holds(model, setup, [layer], x, other):
            return layer
    together = [n for i, (_, n) in enumerate(narrow) if sum(w for w, _ in narrow[:i + 1]) < per_sample]
    if len(together) > 1 and _holds(model, setup, together, x, other):
        return ", ".join(together)
    return None


def _holds(model: torch.nn.Module, setup: Setup, layers: list[str], x: torch.Tensor, other: torch.Tensor) -> bool:
    """With `layers`' outputs held at what they were for the real inputs, do the outputs stay put when `x`
    is replaced by `other`?"""
    modules = [model.get_submodule(n) for n in layers]
    held: dict[int, list] = {i: [] for i in range(len(modules))}
    keeps = [m.register_forward_hook(lambda _m, _a, out, i=i: held[i].append(out)) for i, m in enumerate(modules)]
    try:
        with torch.no_grad():
            base = main_output(setup.forward(model, seed=0))
    finally:
        for h in keeps:
            h.remove()
    if any(len(v) != 1 for v in held.values()) or not isinstance(base, torch.Tensor):
        return False
    holds = [m.register_forward_hook(lambda _m, _a, _out, i=i: held[i][0]) for i, m in enumerate(modules)]
    try:
        with torch.no_grad():
            out = main_output(setup.forward(model, tree_map(setup.inputs, lambda t, _: other if t is x else t), seed=0))
    finally:
        for h in holds:
            h.remove()
    return isinstance(out, torch.Tensor) and out.shape == base.shape and float(changes(base, out).max()) <= OUTPUT_CHANGE
