"""Whether a point target sits on its input: a keypoint, a landmark, a box corner, or a class index into the
flattened cells of the input's grid (a heatmap's argmax) names a position of the input image, and what the
image shows there is the thing located — alike from sample to sample. The input is read in a small patch at
each target position (each sample's patch standardised), as given and with the image moved by each symmetry
of its grid (the flips, the half turn and, square, the transpose and the quarter turns). A target in place
sits on patches alike across samples as given; a target left behind when the image was flipped or turned
(a geometric augmentation applied to the input only), or an index built in the other axis order than the
grid is flattened, sits on them once the image is moved back. judge/points.py decides.

Read from the loss heads on tape (measure/tape.py): the batch's image input and the targets its torch loss
functions compared the outputs with — a few recorded steps, bounded by samples (MAX_SAMPLES), never by time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import torch

from .losses import LOSS_FUNCTIONS

MAX_SAMPLES = 256  # samples read, from the latest tapes first
MIN_SAMPLES = 24  # fewer say nothing about what is alike across samples
MAX_CHANNELS = 16  # an input with more channels is no image
MIN_SIDE = 8
RADIUS = 2  # the patch read around a position: 5 x 5
MAX_POINTS = 8  # point columns of a coordinate target (x, y pairs)
INDEX_LOSSES = frozenset({"cross_entropy", "nll_loss"})
IDENTITY = "as given"


@dataclass
class Points:
    kind: str  # "index" (a class index over the grid's cells, row-major) or "coordinates" ((x, y) pairs)
    grid: tuple[int, int]
    input_name: str
    scale: str  # how the coordinates were read: pixels, [0, 1] or [-1, 1]
    # per point column, per move: the patches (samples, C * (2 RADIUS + 1) ** 2) at the targets, standardised
    patches: list[dict[str, torch.Tensor]] = field(default_factory=list)
    # the same at the previous sample's target on each input: where nothing is located
    elsewhere: list[dict[str, torch.Tensor]] = field(default_factory=list)


def moves(h: int, w: int) -> dict[str, Callable[[torch.Tensor], torch.Tensor]]:
    """The image (…, H, W) moved by each symmetry of its grid: the one that brings a displaced target's content
    back under it."""
    out: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
        IDENTITY: lambda v: v, "flipped upside down": lambda v: v.flip(-2),
        "flipped left-right": lambda v: v.flip(-1), "turned half a turn": lambda v: v.flip(-2, -1)}
    if h == w:
        out.update({"transposed": lambda v: v.transpose(-2, -1),
                    "turned a quarter turn": lambda v: torch.rot90(v, 1, (-2, -1)),
                    "turned a quarter turn back": lambda v: torch.rot90(v, -1, (-2, -1)),
                    "transposed across the other diagonal": lambda v: torch.rot90(v, 2, (-2, -1)).transpose(-2, -1)})
    return out


def measure(tapes: Iterable[Any]) -> Points | None:
    """The patches at the point targets of the tapes (latest first); None when no tape pairs an image input
    with a point target on its grid, or too few samples were read."""
    found: Points | None = None
    images: list[torch.Tensor] = []
    rows: list[torch.Tensor] = []
    for tape in reversed(list(tapes)):
        for x, positions, kind, scale, name in _pairs(tape):
            if found is None:
                found = Points(kind, tuple(x.shape[-2:]), name, scale)
            if (kind, tuple(x.shape[-2:]), name, scale) != (found.kind, found.grid, found.input_name, found.scale):
                continue
            if rows and positions.shape[1] != rows[0].shape[1]:
                continue
            images.append(x)
            rows.append(positions)
            break  # one pairing per tape
        if sum(len(r) for r in rows) >= MAX_SAMPLES:
            break
    if found is None:
        return None
    x = torch.cat(images)[:MAX_SAMPLES]
    p = torch.cat(rows)[:MAX_SAMPLES]
    if len(x) < MIN_SAMPLES:
        return None
    x = (x - x.mean((-2, -1), keepdim=True)) / x.std((-2, -1), keepdim=True).clamp_min(1e-12)
    for k in range(p.shape[1]):
        at, moved = p[:, k], {g: move(x) for g, move in moves(*found.grid).items()}
        found.patches.append({g: _standard(_patches(v, at)) for g, v in moved.items()})
        found.elsewhere.append({g: _standard(_patches(v, at.roll(1, 0))) for g, v in moved.items()})
    return found


def _pairs(tape: Any) -> Iterable[tuple[torch.Tensor, torch.Tensor, str, str, str]]:
    """(the image input (B, C, H, W) in float64, the targets' positions (B, K, 2) as (row, col), their kind,
    how they were scaled, the input's name) of one tape."""
    args, kwargs = tape.batch
    named = [(f"positional argument {i}", a) for i, a in enumerate(args)] + [(f"`{k}`", a) for k, a in kwargs.items()]
    images = [(n, _image(a)) for n, a in named if isinstance(a, torch.Tensor) and a.is_floating_point()]
    images = [(n, a) for n, a in images if a is not None]
    if not images:
        return
    for function, target, classes in _targets(tape):
        for name, x in images:
            if target.shape[0] != x.shape[0]:
                continue
            h, w = x.shape[-2:]
            if function in INDEX_LOSSES and not target.is_floating_point():
                if target.dim() == 1 and classes == h * w and int(target.min()) >= 0:
                    t = target.long()
                    yield x, torch.stack([t // w, t % w], -1)[:, None].double(), "index", "cells", name
            elif target.is_floating_point() and target.dim() == 2 and target.shape[1] % 2 == 0:
                read = _coordinates(target.double(), h, w)
                if read is not None:
                    yield x, read[0], "coordinates", read[1], name


def _image(a: torch.Tensor) -> torch.Tensor | None:
    """a as (B, C, H, W) float64 when it is a batch of images (channels first, or one channel without an axis)."""
    if a.dim() == 3:
        a = a[:, None]
    if a.dim() != 4 or a.shape[1] > MAX_CHANNELS or min(a.shape[-2:]) < MIN_SIDE:
        return None
    return a.detach().double()


def _targets(tape: Any) -> Iterable[tuple[str, torch.Tensor, int | None]]:
    """(loss function, its recorded target, the number of classes its input scores (None: unknown))."""
    shapes = {o: s for op in tape.ops for o, s in zip(op.outs, op.shapes) if o is not None}
    for function, scored, target in tape.loss_calls(LOSS_FUNCTIONS):
        if not hasattr(target, "value") or target.value.requires_grad:
            continue
        shape = shapes.get(getattr(scored, "index", None))
        yield function, target.value.detach(), (shape[1] if shape is not None and len(shape) == 2 else None)


def _coordinates(t: torch.Tensor, h: int, w: int) -> tuple[torch.Tensor, str] | None:
    """(x, y) pairs as (row, col) positions (B, K, 2) on an h x w grid, read by their range: [-1, 1]
    (grid_sample's), [0, 1], or pixels. None when the columns are no positions on the grid."""
    k = t.shape[1] // 2
    if k > MAX_POINTS or not bool(torch.isfinite(t).all()):
        return None
    lo, hi = float(t.min()), float(t.max())
    if lo >= -1.05 and hi <= 1.05 and lo < -0.05:
        xy, scale = (t + 1) / 2, "[-1, 1]"
    elif lo >= -0.05 and hi <= 1.05:
        xy, scale = t, "[0, 1]"
    elif lo >= -1 and hi <= max(h, w) + 1 and hi > 2:
        xy, scale = t / torch.tensor([w, h], dtype=t.dtype).repeat(k), "pixels"
    else:
        return None
    xy = xy.reshape(len(t), k, 2)
    if float(xy.std(0).min()) < 0.02:
        return None  # a column that barely varies locates nothing
    return torch.stack([xy[..., 1] * h - 0.5, xy[..., 0] * w - 0.5], -1), scale


def _patches(x: torch.Tensor, at: torch.Tensor) -> torch.Tensor:
    """Per sample, the (C, 2R + 1, 2R + 1) patch of x around the position at (row, col), zero outside."""
    b, c, h, w = x.shape
    r = RADIUS
    padded = torch.nn.functional.pad(x, (r, r, r, r))
    rc = at.round().long()
    rc[:, 0].clamp_(0, h - 1)
    rc[:, 1].clamp_(0, w - 1)
    offsets = torch.arange(-r, r + 1)
    rows = (rc[:, 0, None] + offsets + r)[:, :, None].expand(b, 2 * r + 1, 2 * r + 1)
    cols = (rc[:, 1, None] + offsets + r)[:, None, :].expand(b, 2 * r + 1, 2 * r + 1)
    idx = torch.arange(b)[:, None, None]
    return padded.permute(0, 2, 3, 1)[idx, rows, cols].reshape(b, -1)


def _standard(p: torch.Tensor) -> torch.Tensor:
    p = p - p.mean(1, keepdim=True)
    return p / p.norm(dim=1, keepdim=True).clamp_min(1e-12)
