"""Which dimension of the batch holds the samples: decided once per checkup, from evidence, for all probes.

Dim 0 is not assumed: pytorch/examples' word_language_model feeds (seq, batch) tokens and a
(layers, batch, hidden) state and returns (seq * batch, vocab) log-probabilities; actor_critic feeds
one unbatched (4,) state. The candidates are dims 0 and 1 of the first input tensor; the evidence,
strongest first:

1. sizes: the other inputs and the targets carry the candidate's size in their first two dims; a square
   table (size x size) pairs one axis with itself, and both kinds exist (an adjacency over the samples, an
   attention mask over the positions of a (T, B) or (B, T) batch), so where only such tables speak for a
   dim, the other dim is taken if it behaves as the samples (below);
2. behaviour on a copy, when the sizes cannot tell: on a slice along the candidate the output carries
   the slice's size, and perturbing sample 0 changes no other sample's output (along time the change
   reaches later positions, along features every output);
3. structure: a sequence-first module (nn.LSTM/GRU/RNN or nn.MultiheadAttention without batch_first)
   for dim 1, otherwise dim 0.

The batch has no batch axis when its first input is first taken by a torch layer in that layer's
unbatched form (a 1-D vector into nn.Linear, a (C, H, W) image into nn.Conv2d), or when nothing in the
batch or the output shares a size with it; probes that need samples then skip and say why.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, Iterator

import torch
from torch import nn

from ..judge.thresholds import OUTPUT_CHANGE
from ..measure.stats import first_tensor, tensors_in
from .tree import call, tree_map

LOOK = 16  # samples in the slices the behavioural evidence is taken on

# A torch layer given a tensor of this rank reads it as one unbatched sample (the layers' documented forms).
_UNBATCHED_RANK = ((nn.Linear, 1), (nn.Bilinear, 1), (nn.Conv1d, 2), (nn.Conv2d, 3), (nn.Conv3d, 4),
                   (nn.ConvTranspose1d, 2), (nn.ConvTranspose2d, 3), (nn.ConvTranspose3d, 4), (nn.RNNBase, 2),
                   (nn.MultiheadAttention, 2))
_LAYERS = tuple(cls for cls, _ in _UNBATCHED_RANK)


@dataclass(frozen=True)
class BatchAxis:
    axis: int | None  # the dim of the first input that holds the samples; None: the batch has no batch axis
    size: int  # the number of samples (1 without a batch axis)
    why: str
    # where the model's main output holds the samples: a dim, or dim 0 flattened with another (folded);
    # found by running two batch sizes (Setup), never from sizes alone (a vocabulary can equal the batch)
    out_dim: int | None = None
    out_folded: bool = False
    # the inputs that hold the samples on two dims (an adjacency, a samples x samples mask): the samples
    # interact by design, and a subset of them is cut on every such dim (pairwise_inputs)
    pairwise: str | None = None
    # the inputs (by position among the input tensors) as wide as the samples are many but holding them on
    # their first dim alone (one-hot node ids beside an adjacency): cut on that dim only
    rows: tuple[int, ...] = ()
    # the other of dims 0 and 1 when neither sizes nor the model's behaviour told them apart (the model is
    # position-wise, an embedding): what runs after the model in the training loop may still tell
    undecided: int | None = None


def batch_dim(t: torch.Tensor, size: int, axis: int) -> int | None:
    """The dim of t holding `size` samples: `axis` when t has that size there, else the other of dims 0 and 1.
    (A recurrent state is (layers, batch, hidden) next to batch-first inputs.)"""
    return next((d for d in (axis, 1 - axis) if d < t.dim() and t.shape[d] == size), None)


def folded(t: torch.Tensor, size: int, axis: int) -> torch.Tensor | None:
    """t's dim 0 unflattened into samples-first (size, k, ...), for outputs and targets that flatten the
    leading (batch, seq) or (seq, batch) dims; None when dim 0 is not a multiple of the samples."""
    if t.dim() == 0 or t.shape[0] <= size or t.shape[0] % size:
        return None
    k, rest = t.shape[0] // size, t.shape[1:]
    return t.reshape(k, size, *rest).movedim(1, 0) if axis == 1 else t.reshape(size, k, *rest)


def output_samples(t: torch.Tensor | None, ax: BatchAxis) -> torch.Tensor | None:
    """The output t with its samples along dim 0, or None when it has no per-sample structure."""
    if t is None or ax.axis is None:
        return None
    if ax.out_folded:
        return folded(t, ax.size, ax.axis)
    d = ax.out_dim
    return t.movedim(d, 0) if d is not None and d < t.dim() and t.shape[d] == ax.size else None


def output_layout(base: torch.Tensor | None, small: torch.Tensor | None, ax: BatchAxis, m: int) -> BatchAxis:
    """ax with the output layout read off the main output with ax.size samples (base) and with m (small):
    the one dim that changed with the number of samples holds them."""
    if base is None or small is None or base.dim() != small.dim():
        return ax
    moved = [d for d in range(base.dim()) if base.shape[d] != small.shape[d]]
    if len(moved) != 1:
        return ax
    d, n = moved[0], ax.size
    if base.shape[d] == n and small.shape[d] == m:
        return replace(ax, out_dim=d)
    if d == 0 and base.shape[0] % n == 0 and small.shape[0] * n == base.shape[0] * m:
        return replace(ax, out_folded=True)
    return ax


def take(obj: Any, ax: BatchAxis, n: int, fold: bool = False, rows: tuple[int, ...] = ()) -> Any:
    """obj with every batched tensor cut to its first n samples (views, no copies); beside a samples x samples
    input (ax.pairwise), a tensor with two dims of the samples' size is cut on each: the sub-graph of n nodes,
    except the tensors at positions `rows` (the inputs' ax.rows)."""
    if ax.axis is None:
        return obj
    position = iter(range(1 << 30))

    def cut(t: torch.Tensor, _: str) -> torch.Tensor:
        at = next(position)  # tensors are met in tensors_in's order
        table = [d for d in range(t.dim()) if t.shape[d] == ax.size] if ax.pairwise else []
        if len(table) >= 2 and at not in rows:
            for d in table:
                t = t.narrow(d, 0, n)
            return t
        d = batch_dim(t, ax.size, ax.axis)
        if d is not None:
            return t.narrow(d, 0, n)
        unflat = folded(t, ax.size, ax.axis) if fold else None
        return t if unflat is None else unflat[:n].movedim(0, ax.axis).reshape(-1, *t.shape[1:])

    return tree_map(obj, cut)


def pairwise_inputs(model: nn.Module | None, inputs: Any, ax: BatchAxis) -> BatchAxis:
    """ax with the inputs holding the samples on two dims (an adjacency, a samples x samples mask), if any.
    Sizes alone can be a coincidence (64 samples of 64 features), so such an input counts only beside another
    one, and only when the model does not run with them cut on their first dim alone, as batches of feature
    rows would be. Node features as wide as the nodes are many (one-hot node ids) look like a table too: an
    input the model needs cut on its first dim only, the others cut on both, holds feature rows (ax.rows)."""
    if ax.axis is None:
        return ax
    named = [(n, t) for n, t in tensors_in(inputs)]
    on = [sum(s == ax.size for s in t.shape) for _, t in named]
    square = [i for i, k in enumerate(on) if k >= 2]
    if not square or len(named) < 2 or (model is None and 1 not in on):
        return ax
    rows: tuple[int, ...] = ()
    if model is not None:
        n = min(ax.size, LOOK) - 1  # fewer than the samples: a dim cut to n is told from the others
        if _runs_cut(model, inputs, ax, n, tuple(square)):
            return ax
        rows = next(((i,) for i in square if len(square) > 1 and _runs_cut(model, inputs, ax, n, (i,))), ())
    tables = [f"`{named[i][0]}` {tuple(named[i][1].shape)}" for i in square if i not in rows]
    return replace(ax, pairwise=", ".join(tables), rows=rows)


def _runs_cut(model: nn.Module, inputs: Any, ax: BatchAxis, n: int, rows: tuple[int, ...]) -> bool:
    """Whether the model runs on the inputs cut to n samples, those at `rows` on their first dim alone and the
    other tables on both, and its output holds the n samples."""
    try:
        with torch.no_grad():
            out = first_tensor(call(model, take(inputs, replace(ax, pairwise="?"), n, rows=rows), seed=0))
    except Exception:  # the model needs the table cut on both dims
        return False
    return out is not None and n in out.shape


def perturbed(x: torch.Tensor, dim: int, gen: torch.Generator, start: int = 0,
              length: int = 1) -> torch.Tensor | None:
    """A copy of x with positions start..start+length-1 along `dim` changed (sample 0 by default): every token
    id replaced by another in the range, floats shifted by about one std, booleans flipped. None when nothing
    could change."""
    if x.is_complex() or (x.is_floating_point() and not torch.isfinite(x).all()):
        return None
    y = x.clone()
    old, new = x.narrow(dim, start, length), y.narrow(dim, start, length)
    if x.dtype == torch.bool:
        new.copy_(~old)
    elif x.is_floating_point():
        spread = float(x.float().std()) if x.numel() > 1 else 1.0
        new.add_(noise(torch.randn(old.shape, generator=gen), x) * (spread + 1e-3))
    else:
        lo, span = int(x.min()), int(x.max()) - int(x.min()) + 1
        if span == 1:
            return None
        shift = noise(torch.randint(1, span, old.shape, generator=gen), x)  # every id moves to another id in the range
        new.copy_((old.long() - lo + shift) % span + lo)
    return None if torch.equal(old, new) else y


def noise(drawn: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Draws made on a seeded CPU generator (the same numbers on every device), on `like`'s device and in
    its dtype, so they combine with a batch on a GPU or in float64/bfloat16."""
    return drawn.to(like.device, like.dtype)


def changes(base: torch.Tensor, moved: torch.Tensor) -> torch.Tensor:
    """Per-sample largest change of samples-first outputs, relative to the output's scale."""
    base, moved = base.detach().float(), moved.detach().float()
    return (moved - base).abs().reshape(base.shape[0], -1).amax(1) / (float(base.abs().max()) + 1e-12)


@contextmanager
def _first_layers(tensors: list[torch.Tensor]) -> Iterator[dict[int, nn.Module]]:
    """Record, for each tensor, the first torch layer it is passed to."""
    ids, first = {id(t) for t in tensors}, {}

    def hook(module: nn.Module, args: Any) -> None:
        if isinstance(module, _LAYERS):
            for a in args:
                if isinstance(a, torch.Tensor) and id(a) in ids:
                    first.setdefault(id(a), module)

    handle = nn.modules.module.register_module_forward_pre_hook(hook)
    try:
        yield first
    finally:
        handle.remove()


@dataclass
class _Look:
    output: bool = False  # the output carries the slice's samples
    independent: int = 0  # 1: perturbing sample 0 left the others unchanged; -1: it did not; 0: unknown
    unbatched: str | None = None


def _look(model: nn.Module, inputs: Any, name: str, x: torch.Tensor, c: int) -> _Look:
    ax = BatchAxis(c, x.shape[c], "")
    n = min(ax.size, LOOK)
    if n < 2:
        return _Look()
    sliced, half = take(inputs, ax, n), take(inputs, ax, n // 2)
    watched = [t for _, t in tensors_in(sliced)]
    xs = next(t for t in watched if t.dim() >= 1)
    try:
        with torch.no_grad(), _first_layers(watched) as first:
            out = first_tensor(call(model, sliced, seed=0))
        layer = first.get(id(xs))
        rank = next((r for cls, r in _UNBATCHED_RANK if isinstance(layer, cls)), None)
        if rank is not None and xs.dim() == rank:
            return _Look(unbatched=f"`{name}` {tuple(x.shape)} goes first into a {type(layer).__name__}, "
                                   "which reads a tensor of that rank as one unbatched sample")
        with torch.no_grad():
            small = output_layout(out, first_tensor(call(model, half, seed=0)), BatchAxis(c, n, ""), n // 2)
        base = output_samples(out, small)
        y = perturbed(xs, c, torch.Generator().manual_seed(0)) if base is not None else None
        if y is None:
            return _Look(output=base is not None)
        with torch.no_grad():
            moved = output_samples(first_tensor(call(model, tree_map(sliced, lambda t, _: y if t is xs else t), seed=0)), small)
    except Exception:  # the model does not run on a slice along this dim: no evidence for it
        return _Look()
    if moved is None or moved.shape != base.shape:
        return _Look(output=True)
    change = changes(base, moved)
    return _Look(True, 0 if float(change[0]) == 0 else (1 if float(change[1:].max()) <= OUTPUT_CHANGE else -1))


def _sequence_first(model: nn.Module) -> str | None:
    return next((n for n, m in model.named_modules()
                 if isinstance(m, (nn.RNNBase, nn.MultiheadAttention)) and not m.batch_first), None)


def decide(model: nn.Module | None, inputs: Any, targets: Any, given: int | None = None) -> BatchAxis:
    """`model` is an eval-mode copy (None: none could be made); it is run, on slices of at most LOOK
    samples, only when the sizes cannot tell. `given`: the dim to take (what a caller found where this
    decision left two candidates, BatchAxis.undecided)."""
    named = [(n, t) for n, t in tensors_in(inputs) if t.dim() >= 1]
    if not named:
        return BatchAxis(None, 1, "no input tensor has a dimension to hold samples")
    name, x = named[0]
    if given is not None:
        return BatchAxis(given, x.shape[given], f"dim {given} of `{name}` {tuple(x.shape)}, as given")
    others = [t for _, t in named[1:]] + [t for _, t in tensors_in(targets) if t.dim() >= 1]
    support = {c: sum(x.shape[c] in t.shape[:2] for t in others) for c in (0, 1) if c < x.dim()}
    best = max(support.values())
    leaders = [c for c, s in support.items() if s == best]
    if best and len(leaders) == 1:
        c = leaders[0]
        square = [t for t in others if tuple(t.shape[:2]) == (x.shape[c], x.shape[c])]
        if len(square) == best and model is not None and x.dim() >= 2:
            o = 1 - c
            look = _look(model, inputs, name, x, o)
            if look.output and look.independent == 1:
                return BatchAxis(o, x.shape[o], f"only the square {tuple(square[0].shape)} shares the size of dim {c} of "
                                                f"`{name}` {tuple(x.shape)} (a mask over its positions); perturbing "
                                                f"one sample along dim {o} changes only that sample's output")
        return BatchAxis(c, x.shape[c], f"{best} other tensor(s) of the batch share the size {x.shape[c]} of dim {c} "
                                        f"of `{name}` {tuple(x.shape)}")
    looks = {c: _look(model, inputs, name, x, c) if model is not None else _Look() for c in leaders}
    unbatched = next((lk.unbatched for lk in looks.values() if lk.unbatched), None)
    if unbatched or (not best and not any(lk.output for lk in looks.values())):
        return BatchAxis(None, 1, unbatched or f"nothing else in the batch or the output shares a size with "
                                               f"`{name}` {tuple(x.shape)}")
    seq = _sequence_first(model) if model is not None else None
    prior = 1 if seq and x.dim() >= 2 else 0
    c = max(leaders, key=lambda c: (looks[c].output, looks[c].independent, c == prior))
    if looks[c].independent == 1 and sum(lk.independent == 1 for lk in looks.values()) == 1:
        why = f"perturbing one sample along dim {c} of `{name}` {tuple(x.shape)} changes only that sample's output"
        return BatchAxis(c, x.shape[c], why)
    why = (f"sizes and behaviour do not tell dims {leaders} of `{name}` {tuple(x.shape)} apart; "
           + (f"`{seq}` is sequence-first" if c == prior == 1 else "dim 0 by convention" if c == 0 else
              f"only dim {c} slices the output"))
    alike = [d for d in leaders if d != c and looks[d] == looks[c]]
    return BatchAxis(c, x.shape[c], why, undecided=alike[0] if alike and not seq else None)
