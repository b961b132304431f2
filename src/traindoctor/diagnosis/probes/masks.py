"""A padding mask hides the padding, not the content.

The padding is found from the data: the value filling the tails (or, left-padded, the heads) of an
integer input's sequences, and found nowhere else — never assumed to be 0. The masks are read where
attention consumes them, on an eval-mode copy, at the torch-function level: the key padding and
attention masks of `F.multi_head_attention_forward` (nn.MultiheadAttention and the nn.Transformer
layers, whichever layout), the `attn_mask` of `F.scaled_dot_product_attention` (True there means
attend), and the scores entering a softmax (a hand-written attention's masked_fill, torch.where or
additive mask all end there as scores of -1000 or below). A key is hidden from a sample when every
query of every head is kept from it. A mask that hides the content positions and leaves the padding
visible has its polarity inverted: a tokenizer's attention_mask (True = real token) passed where
True means "ignore" (key_padding_mask), or its complement passed where True means "attend".

Why read the masks rather than run an experiment on the outputs (replace the content tokens, keep
the padding, and see whether the read-out moves): a model blind to its content tokens can be so for
many reasons (a frozen zero embedding, a detached path), and per-position outputs still see their own
token through the residual path even when the attention sees only padding; the mask itself says
which keys attention is kept from, whatever the layout or the way it was written."""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, TypedDict

import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

from ...judge import probes as probe_rules
from ...judge.thresholds import MASK_HIDDEN_SCORE, PAD_TAIL_SHARE
from ...measure.stats import tensors_in
from ...vocabulary.finding import Finding
from ..axis import batch_dim
from ..registry import Context, probe
from ..setup import NotApplicable, Setup

# Tokens a model may add to a sequence itself ([CLS], [SEP], a memory slot): how far the keys of a mask
# can outnumber an input's positions and still be that input's.
EXTRA_KEYS = 2


class Padding(NamedTuple):
    input: str
    value: int
    side: str  # "end" (tails) or "start" (heads)
    positions: torch.Tensor  # (batch, positions) bool: True where the input holds padding


class PaddingSeen(TypedDict):
    input: str
    pad_value: int
    padded_at: str  # "end" or "start"
    padding_positions: int
    content_positions: int


class MaskCall(TypedDict):
    call: int  # which attention call of the forward, in order
    op: str  # the function that received the mask
    module: str  # the module it ran in
    input: str  # the padded input whose positions the mask's keys are
    first_key: int  # the key of the input's first position (1: the model put a token of its own before it)
    content_hidden: float  # share of the content positions the mask hides from every query
    padding_visible: float  # share of the padding positions it leaves visible


class PaddingMaskRecord(TypedDict, total=False):
    padded: list[PaddingSeen]  # the padded integer inputs
    calls: list[MaskCall]  # per attention call and padded input of as many positions as its keys
    note: str


def _end_runs(x: torch.Tensor, value: int) -> torch.Tensor:
    """(batch, positions) True on the run of `value` that ends each row."""
    return (x == value).flip(1).int().cumprod(1).flip(1).bool()


def _most_frequent(values: torch.Tensor, k: int = 8) -> list[int]:
    """The k commonest values: the pad id ends most rows of a padded batch, an EOS the unpadded ones."""
    distinct, counts = values.unique(return_counts=True)
    return distinct[counts.argsort(descending=True, stable=True)[:k]].tolist()


def padding_of(x: torch.Tensor) -> tuple[int, str, torch.Tensor] | None:
    """The value filling the tails (or heads) of the rows of a (batch, positions) integer tensor of tokens,
    and where: a value ending rows in runs of varying length (padding to the longest row; a [CLS], BOS or
    EOS that opens or closes every row is one position everywhere) with PAD_TAIL_SHARE of its occurrences
    in those runs, the rest holding more than one value (a 0/1 attention_mask is not a sequence of tokens:
    which of its values is padding is the convention in question). Of several, the one covering the most
    positions."""
    best = None
    for side, rows in (("end", x), ("start", x.flip(1))):
        for value in _most_frequent(rows[:, -1]):
            runs = _end_runs(rows, value)
            padded, total = int(runs.sum()), int((rows == value).sum())
            if (runs.all() or padded < PAD_TAIL_SHARE * total or runs.sum(1).unique().numel() < 2
                    or rows[~runs].unique().numel() < 2):
                continue
            if best is None or padded > best[0]:
                best = (padded, value, side, runs if side == "end" else runs.flip(1))
    return None if best is None else best[1:]


def find_padding(setup: Setup) -> list[Padding]:
    """The padded integer (batch, positions) inputs, those with the most distinct values first, one per
    padding (labels padded where the ids are add nothing). Each mask is related to every one of them (a
    seq2seq batch pads source and target)."""
    B = setup.batch_size
    found = []
    for name, t in tensors_in(setup.inputs):
        if t.dim() != 2 or t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
            continue
        dim = batch_dim(t, B, setup.axis.axis)
        pad = padding_of(t.movedim(dim, 0)) if dim is not None else None
        if pad is not None:
            found.append((int(t.unique().numel()), Padding(name, *pad)))
    kept: list[Padding] = []
    for _, padding in sorted(found, key=lambda f: -f[0]):
        if not any(torch.equal(padding.positions, k.positions) for k in kept):
            kept.append(padding)
    return kept


# ── the masks attention receives ─────────────────────────────────────────────

def _arg(args: tuple, kwargs: dict, name: str, index: int) -> Any:
    if name in kwargs:
        return kwargs[name]
    return args[index] if index < len(args) else None


def _hidden(mask: Any, attend_if_true: bool = False) -> torch.Tensor | None:
    """Where a mask keeps attention from a key: a bool mask's True (False where True means attend), a
    float mask's entries at or below MASK_HIDDEN_SCORE (-inf included)."""
    if not isinstance(mask, torch.Tensor) or mask.dim() == 0:
        return None
    if mask.dtype == torch.bool:
        return ~mask if attend_if_true else mask
    return mask <= MASK_HIDDEN_SCORE if mask.is_floating_point() else None


def _per_sample(hidden: torch.Tensor, batch: int, queries: bool) -> torch.Tensor:
    """(batch or 1, keys): the keys hidden from every query (and head) of each sample. The leading dim
    holds the samples when it is the batch's size or a multiple (batch x heads, sample-major); a mask
    of (queries, keys) alone, or one of another leading size, is the same for every sample."""
    keys = hidden.shape[-1]
    lead = hidden.shape[0]
    batched = hidden.dim() >= (3 if queries else 2) and lead % batch == 0
    if batched:
        return hidden.reshape(batch, -1, keys).all(1)
    return hidden.reshape(-1, keys).all(0, keepdim=True)


def _mha(args: tuple, kwargs: dict, batch: int) -> torch.Tensor | None:
    """F.multi_head_attention_forward: key_padding_mask (batch, keys), attn_mask (queries, keys) or
    (batch x heads, queries, keys)."""
    parts = []
    padding = _hidden(_arg(args, kwargs, "key_padding_mask", 14))
    if padding is not None:
        parts.append(padding if padding.dim() == 2 else padding[None])
    attn = _hidden(_arg(args, kwargs, "attn_mask", 16))
    if attn is not None:
        parts.append(_per_sample(attn, batch, queries=True))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else _either(*parts)


def _either(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor | None:
    return a | b if a.shape[-1] == b.shape[-1] else None


def _sdpa(args: tuple, kwargs: dict, batch: int) -> torch.Tensor | None:
    hidden = _hidden(_arg(args, kwargs, "attn_mask", 3), attend_if_true=True)
    return None if hidden is None else _per_sample(hidden, batch, queries=hidden.dim() >= 2)


def _softmax(args: tuple, kwargs: dict, batch: int) -> torch.Tensor | None:
    scores, dim = args[0] if args else kwargs.get("input"), _arg(args, kwargs, "dim", 1)
    if not isinstance(scores, torch.Tensor) or not scores.is_floating_point() or not isinstance(dim, int) or scores.dim() < 2:
        return None
    hidden = _hidden(scores.movedim(dim, -1))
    return None if hidden is None or not hidden.any() else _per_sample(hidden, batch, queries=False)


_READERS: dict[Any, tuple[str, Callable[[tuple, dict, int], torch.Tensor | None]]] = {
    F.multi_head_attention_forward: ("F.multi_head_attention_forward", _mha),
    F.scaled_dot_product_attention: ("F.scaled_dot_product_attention", _sdpa),
    **{f: (name, _softmax) for f, name in (
        (F.softmax, "softmax"), (torch.softmax, "softmax"), (torch.Tensor.softmax, "softmax"),
        (F.log_softmax, "log_softmax"), (torch.log_softmax, "log_softmax"), (torch.Tensor.log_softmax, "log_softmax"))},
}


class MaskWatch(TorchFunctionMode):
    """During forwards of `model` (a copy), the keys each attention call hides from every query, per sample."""

    def __init__(self, model: nn.Module, batch: int):
        super().__init__()
        self.batch = batch
        self.stack = [type(model).__name__]
        self.seen: list[tuple[str, str, torch.Tensor]] = []  # (op, module, hidden keys (batch or 1, keys))
        self._hooks = []
        for name, module in model.named_modules():
            if name:
                self._hooks.append(module.register_forward_pre_hook(self._enter(name)))
                self._hooks.append(module.register_forward_hook(self._leave))

    def _enter(self, name: str) -> Callable[..., None]:
        def push(module: nn.Module, args: Any) -> None:
            self.stack.append(name)
        return push

    def _leave(self, module: nn.Module, args: Any, out: Any) -> None:
        self.stack.pop()

    def remove(self) -> None:
        for h in self._hooks:
            h.remove()

    def __torch_function__(self, func, types_, args=(), kwargs=None):
        kwargs = kwargs or {}
        reader = _READERS.get(func)
        if reader is not None:
            hidden = reader[1](args, kwargs, self.batch)
            if hidden is not None:
                self.seen.append((reader[0], self.stack[-1], hidden))
        return func(*args, **kwargs)


def _share(part: torch.Tensor, whole: torch.Tensor) -> float:
    return float(part.sum()) / max(int(whole.sum()), 1)


def _alignments(keys: int, positions: int) -> tuple[int, ...]:
    """Where an input's positions can sit among the keys: the same positions, or after (or before) up to
    EXTRA_KEYS tokens the model adds itself (a learned [CLS], a memory slot)."""
    extra = keys - positions
    return (0,) if extra == 0 else (extra, 0) if 0 < extra <= EXTRA_KEYS else ()


def relate(seen: list[tuple[str, str, torch.Tensor]], paddings: list[Padding]) -> list[MaskCall]:
    """Each mask against the padding of each input whose positions its keys can hold."""
    calls = []
    for i, (op, module, hidden) in enumerate(seen):
        for padding in paddings:
            B, T = padding.positions.shape
            if hidden.shape[0] not in (1, B):
                continue
            for first in _alignments(hidden.shape[-1], T):
                content, shown = ~padding.positions, hidden[:, first:first + T].expand(B, T)
                calls.append(MaskCall(call=i, op=op, module=module, input=padding.input, first_key=first,
                                      content_hidden=_share(shown & content, content),
                                      padding_visible=_share(~shown & padding.positions, padding.positions)))
    return calls


@probe("padding-mask", order=75, cheap=True,
       about="the keys each attention mask hides, against the padding found at the inputs' tails: it must hide the padding, not the content")
def padding_mask(setup: Setup, context: Context) -> tuple[list[Finding], PaddingMaskRecord]:
    B = setup.need_samples(1)
    paddings = find_padding(setup)
    if not paddings:
        raise NotApplicable("no integer input padded at its sequences' tails or heads")
    record = PaddingMaskRecord(padded=[PaddingSeen(input=p.input, pad_value=p.value, padded_at=p.side,
                                                   padding_positions=int(p.positions.sum()),
                                                   content_positions=int((~p.positions).sum())) for p in paddings])
    model = setup.copy_model(train=False)
    watch = MaskWatch(model, B)
    try:
        with torch.no_grad(), watch:
            setup.forward(model, seed=0)
    finally:
        watch.remove()
    record["calls"] = calls = relate(watch.seen, paddings)
    if not calls:
        record["note"] = "no attention mask over the padded inputs' positions was seen"
        return [], record
    found = probe_rules.padding_mask_inverted(calls, {p["input"]: p for p in record["padded"]}, dict(record))
    if found is None:
        record["note"] = "the masks hide the padding (or nothing), not the content"
        return [], record
    return [found], record
