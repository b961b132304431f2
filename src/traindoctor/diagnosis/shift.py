"""Next-step tasks: which input the targets are, along which of its axes, and how many steps ahead.

A target at position p equal to an input at position p + k (k >= 1) is the mark of next-token
prediction and of k-step forecasting. The axis is read off the data, never assumed: time may be
next to the batch (batch-first, or sequence-first (T, B, F)) or after the channels (Conv1d's
(B, C, T)); targets may be flattened for the loss ((B*T,), (B*T, F)), a slice of the input's channels
(the next value of channel 0), or, for floats, in other units (standardised inputs, raw targets); a
one-hot input is read as the tokens it encodes. k = 0 is no next-step task: an autoencoder predicts
the present from the present. Labels handed to the model
equal to its input (Hugging Face causal LMs) are shifted by one inside it, so the output at p is scored
against labels[p + 1]; labels already ahead of an input (a seq2seq decoder's, shifted right into
decoder_input_ids) are scored as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

import torch

from ..judge.thresholds import CAUSAL_MATCH_CHANNELS, CAUSAL_MATCH_TOLERANCE, CAUSAL_MAX_SHIFT
from ..measure.stats import tensors_in
from .axis import batch_dim, folded

SCREEN = 4  # samples every candidate is first compared on; a match is then confirmed on all of them
NOT_INPUTS = ("labels", "attention_mask")  # what the model is told, not what it reads
IGNORE_INDEX = -100  # torch's and Hugging Face's default: an integer target the loss skips (padding) matches anything


@dataclass(frozen=True)
class Shift:
    name: str  # the input the targets are taken from
    tensor: torch.Tensor
    time: int  # its dim holding the positions
    steps: int  # the output at position p is scored against this input at p + steps
    length: int  # the positions the targets (and so the scored outputs) hold
    channels: tuple[int, ...] | None = None  # the input channels the targets are (None: all of them)

    def describe(self) -> str:
        what = f"`{self.name}`" + (f" channel(s) {list(self.channels)}" if self.channels is not None else "")
        return f"the targets are {what} {self.steps} step(s) ahead along dim {self.time}"


def positions(t: torch.Tensor, batch: int, time: int) -> torch.Tensor:
    """t as (samples, positions, channels), the other dims flattened into channels."""
    return t.movedim((batch, time), (0, 1)).reshape(t.shape[batch], t.shape[time], -1)


def find(inputs: Any, targets: Any, size: int, axis: int) -> Shift | None:
    """The next-step relation between the batch's targets and one of its inputs (`size` samples along
    dim `axis` of the inputs), or None when the targets are no input shifted ahead."""
    inner = 0
    if not isinstance(targets, torch.Tensor) and isinstance(inputs, dict) and isinstance(inputs.get("labels"), torch.Tensor):
        targets, inner = inputs["labels"], 1
    if not isinstance(targets, torch.Tensor) or targets.dim() == 0:
        return None
    views = list(_samples(targets, size, axis))
    for name, x in tensors_in(inputs):
        b = batch_dim(x, size, axis)
        if name.split(".")[-1] in NOT_INPUTS or x.dim() < 2 or b is None:
            continue
        read = _classes(x, targets)
        for time in (d for d in range(read.dim()) if d != b):
            for y in views:
                for e in range(1, y.dim()):
                    found = _ahead(read, b, time, y, e)
                    if found is None or found[0] + inner == 0:
                        continue
                    k, channels = found
                    if k == 0:  # labels equal to the input: the model shifts them by one inside
                        return Shift(name, x, time, 1, y.shape[e] - 1, channels)
                    return Shift(name, x, time, k, y.shape[e], channels)
    return None


def _classes(x: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """x as class-index targets would hold it: a one-hot input (a single 1 per position along its last dim,
    F.one_hot(tokens).float()) is its tokens; any other input is itself."""
    if targets.is_floating_point() or x.dim() < 3 or x.shape[-1] < 2 or x.dtype == torch.bool:
        return x
    ones = x == 1
    if not bool((ones | (x == 0)).all()) or not bool((ones.sum(-1) == 1).all()):
        return x
    return x.argmax(-1)


def _samples(y: torch.Tensor, size: int, axis: int) -> Iterator[torch.Tensor]:
    """The targets samples-first, as they may hold them: along a dim, or folded into dim 0 with time."""
    d = batch_dim(y, size, axis)
    if d is not None:
        yield y.movedim(d, 0)
    unfolded = folded(y, size, axis)
    if unfolded is not None:
        yield unfolded


def _ahead(x: torch.Tensor, b: int, time: int, y: torch.Tensor, e: int) -> tuple[int, tuple[int, ...] | None] | None:
    """The smallest k with y[:, p] == x[:, p + k] (x's samples along b and positions along `time`, the
    samples-first y's positions along e), and the channels of x that y is; None when there is none up to
    CAUSAL_MAX_SHIFT. Each k is screened on the first samples; all of them confirm a match."""
    if not x.numel() or not y.numel() or y.shape[e] > x.shape[time]:
        return None
    if y.numel() // (y.shape[0] * y.shape[e]) > x.numel() // (x.shape[b] * x.shape[time]):  # more channels
        return None
    n = min(SCREEN, y.shape[0])
    screen = positions(x.narrow(b, 0, n), b, time), positions(y[:n], 0, e)
    for k in range(min(CAUSAL_MAX_SHIFT, x.shape[time] - 2) + 1):
        channels = _same(*screen, k)
        if channels is not False and _same(positions(x, b, time), positions(y, 0, e), k) == channels:
            return (k, channels)
    return None


def _same(x: torch.Tensor, y: torch.Tensor, k: int) -> tuple[int, ...] | None | bool:
    """Whether y[:, p] equals x[:, p + k] on the positions both hold: None for all channels, the channels
    of x matched one by one, or False. An input constant there matches anything and counts as no match.
    Floats also match in other units: inputs standardised for the model and targets left raw (or the other
    way round) are the same series, so each channel is compared as z-scores when the values differ."""
    n = min(y.shape[1], x.shape[1] - k)
    if n < 2:
        return False
    a, b = x[:, k:k + n], y[:, :n]
    if x.is_floating_point() or y.is_floating_point():
        a, b = a.double(), b.double()
        skipped = torch.zeros_like(b, dtype=torch.bool)  # no float target is skipped by the loss
        for u, v in ((a, b), (_standard(a), _standard(b))):  # as given, then each channel in its own units
            found = _equal(u, v, CAUSAL_MATCH_TOLERANCE * (float(u.abs().max()) + 1e-12), skipped)
            if found is not False:
                return found
        return False
    a, b = a.long(), b.long()
    skipped = b == IGNORE_INDEX
    if bool(skipped.all()):
        return False
    return _equal(a, b, 0.0, skipped)


def _standard(t: torch.Tensor) -> torch.Tensor:
    """Each channel of (samples, positions, channels) as z-scores over its samples and positions."""
    mean, std = t.mean((0, 1)), t.std((0, 1), unbiased=False)
    return (t - mean) / std.clamp_min(1e-300)


def _equal(a: torch.Tensor, b: torch.Tensor, tol: float, skipped: torch.Tensor) -> tuple[int, ...] | None | bool:
    """_same on the compared positions: a (the input at p + k) and b (the targets at p)."""
    def close(j: slice) -> torch.Tensor:
        """Per channel of a: whether target channel(s) j equal it at every position the loss counts."""
        return (((a - b[..., j]).abs() <= tol) | skipped[..., j]).flatten(0, 1).all(0)

    varies = a.amax((0, 1)) > a.amin((0, 1))
    if a.shape[2] == b.shape[2] and bool(close(slice(None)).all()):
        return None if bool(varies.any()) else False
    if b.shape[2] > CAUSAL_MATCH_CHANNELS:
        return False
    channels = []
    for j in range(b.shape[2]):
        hits = close(slice(j, j + 1)) & varies
        if not bool(hits.any()):
            return False
        channels.append(int(hits.nonzero()[0]))
    return tuple(channels)
