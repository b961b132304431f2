"""Whether a dense target sits where its input is: a target on the input's own grid (a segmentation mask, a
depth map, a heatmap, a clean image, a tag per time step) is, at each position, a function of the input
around that position. Each recorded sample's target is fitted by a tiny local model of its own input — the
input's values in a 3-wide neighbourhood per axis, their centre squared, a bias: a least-squares fit per
sample — as given and moved by each of a small group of spatial transforms (the flips, the half turn, the
transpose of a square grid, shifts of a few positions). A target in place is fitted best as given; a target
flipped, rotated or cropped apart from its input is fitted best moved back. The input is the same for every
transform, so one projection onto its features' span scores them all (judge/dense.py decides).

Read from the loss heads on tape (measure/tape.py): their batches and the targets their torch loss
functions, or a difference written by hand, compared the outputs with — a few recorded steps, bounded by
samples (MAX_SAMPLES) and by grid size (MAX_CELLS), never by time.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import torch

from .losses import LOSS_FUNCTIONS

MAX_SAMPLES = 64  # samples scored, from the latest tapes first
OTHERS = 3  # other samples' targets fitted on each input: the chance level, from three times as many fits
MAX_CLASSES = 16  # an integer target with more distinct values is not a class map
MAX_CHANNELS = 16  # an input with more channels is not an image or a signal read per position
MIN_SIDE = 8  # a grid axis shorter than this leaves no room for shifts
MIN_CELLS = 32
MAX_CELLS = 1024  # larger grids are pooled down to this many positions: a flip or a crop still shows
IDENTITY = "as given"


@dataclass
class Sample:
    fits: dict[str, float]  # per transform, the share of the target's variance the input's local model leaves

    @property
    def given(self) -> float:
        return self.fits[IDENTITY]

    @property
    def best_moved(self) -> tuple[str, float]:
        return min(((g, u) for g, u in self.fits.items() if g != IDENTITY), key=lambda gu: gu[1])


@dataclass
class Alignment:
    grid: tuple[int, ...]  # the common grid of inputs and targets, as recorded
    input_name: str  # which argument of the model call
    samples: list[Sample] = field(default_factory=list)
    elsewhere: list[Sample] = field(default_factory=list)  # each sample's input with the next ones' targets


def measure(tapes: Iterable[Any]) -> Alignment | None:
    """Per sample of the tapes (latest first), the local fits of its target as given and moved, and of the
    next OTHERS samples' targets on its input (how well a target from elsewhere fits by chance); None when
    no tape pairs a floating input with a target on the same grid."""
    found: Alignment | None = None
    for tape in reversed(list(tapes)):
        for x, t, name in _pairs(tape):
            spec = _grid(tuple(x.shape[1:]), tuple(t.shape[1:]))
            if spec is None:
                continue
            if found is None:
                found = Alignment(spec[2], name)
            if (spec[2], name) != (found.grid, found.input_name):
                continue
            classes = _classes(t) if not t.is_floating_point() and t.dim() == len(spec[2]) + 1 else None
            if classes is not None and len(classes) > MAX_CLASSES:
                classes = None  # integer values, not a class map
            for i in range(x.shape[0]):
                if len(found.samples) >= MAX_SAMPLES:
                    return found
                others = [t[(i + k) % len(t)] for k in range(1, min(OTHERS, len(t) - 1) + 1)]
                xi, *targets = _sample(x[i], [t[i], *others], spec, classes)
                if xi.shape[0] > MAX_CHANNELS:
                    return found
                own, *elsewhere = _score(xi, targets)
                if own is not None and elsewhere and None not in elsewhere:
                    found.samples.append(own)
                    found.elsewhere += elsewhere
            break  # one pairing per tape
    return found


def _pairs(tape: Any) -> Iterable[tuple[torch.Tensor, torch.Tensor, str]]:
    """(batched floating input, batched target, the input's name) of one tape."""
    args, kwargs = tape.batch
    inputs = [(f"positional argument {i}", a) for i, a in enumerate(args)]
    inputs += [(f"`{k}`", a) for k, a in kwargs.items()]
    inputs = [(n, a) for n, a in inputs if isinstance(a, torch.Tensor) and a.is_floating_point() and a.dim() >= 2]
    targets = []
    for _, const in tape.target_consts(set(LOSS_FUNCTIONS)) + tape.entrywise_consts():
        value = const.value
        if const.base_shape is not None and value.numel() == torch.Size(const.base_shape).numel():
            value = value.reshape(const.base_shape)  # a target flattened for the loss: its layout as fed
        targets.append(value)
    for t in targets:
        for name, x in inputs:
            if t.dim() >= 2 and t.shape[0] == x.shape[0] and not t.requires_grad:
                yield x.detach(), t.detach(), name


def _grid(s: tuple[int, ...], t: tuple[int, ...]) -> tuple[str, str, tuple[int, ...]] | None:
    """How an input sample of shape `s` and a target sample of shape `t` share a grid: each with at most one
    channel axis, first or last ("first"/"last" for the input, then the target); None when they do not."""
    for n in (2, 1):
        if len(s) - n not in (0, 1) or len(t) - n not in (0, 1):
            continue
        for xs, ts in (("first", "first"), ("last", "last"), ("first", "last"), ("last", "first")):
            gx = s[len(s) - n:] if xs == "first" else s[:n]
            gt = t[len(t) - n:] if ts == "first" else t[:n]
            if gx == gt and min(gx) >= MIN_SIDE and _cells(gx) >= MIN_CELLS:
                return xs, ts, gx
    return None


def _cells(grid: tuple[int, ...]) -> int:
    out = 1
    for g in grid:
        out *= g
    return out


def _classes(t: torch.Tensor) -> torch.Tensor:
    """The values of a class map, read on at most 65536 evenly spaced positions: a class rarer than that is
    no region (and sorting every pixel of a large batch costs seconds)."""
    flat = t.reshape(-1)
    return torch.unique(flat[::max(1, len(flat) // 65536)])


def _sample(x: torch.Tensor, targets: list[torch.Tensor], spec: tuple[str, str, tuple[int, ...]],
            classes: torch.Tensor | None) -> list[torch.Tensor]:
    """An input (C, *grid) and targets (K, *grid) in float64, averaged over blocks down to at most MAX_CELLS
    positions (a flip or a crop still shows); a class map as one-hot channels of the batch's classes, each
    of them a region."""
    xs, ts, grid = spec
    n = len(grid)
    block = 1
    while _cells(tuple(g // block for g in grid)) > MAX_CELLS:
        block += 1
    pool = torch.nn.functional.avg_pool1d if n == 1 else torch.nn.functional.avg_pool2d
    out = []
    for v, where in ((x, xs), *((t, ts) for t in targets)):
        if classes is not None and v is not x:
            v, where = v[None] == classes.view(-1, *[1] * n), "first"  # one channel per class
        v = _channels_first(v, where, n).to(torch.float32)
        out.append((pool(v, block) if block > 1 else v).to(torch.float64))
    return out


def _channels_first(v: torch.Tensor, where: str, n: int) -> torch.Tensor:
    """A sample as (channels, *grid)."""
    if v.dim() == n:
        return v[None]
    return v if where == "first" else v.movedim(-1, 0)


def _transforms(grid: tuple[int, ...], reach: int) -> dict[str, Callable[[torch.Tensor], torch.Tensor]]:
    """The group the targets are moved by: per axis a flip, in 2-D the half turn and (square) the transpose,
    and shifts by even offsets up to `reach`: the local model's own 3-wide neighbourhood covers the odd ones."""
    n = len(grid)
    flips = ["flipped upside down", "flipped left-right"] if n == 2 else ["reversed"]
    moves: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {IDENTITY: lambda v: v}
    for a, name in enumerate(flips):
        moves[name] = lambda v, a=a: v.flip(1 + a)
    if n == 2:
        moves["turned half a turn"] = lambda v: v.flip(1, 2)
        if grid[0] == grid[1]:
            moves["transposed"] = lambda v: v.transpose(1, 2)
    for shift in itertools.product(range(-reach, reach + 1, 2), repeat=n):
        if max(abs(s) for s in shift) >= 2:
            moves[f"shifted by {shift if n > 1 else shift[0]}"] = lambda v, s=shift: v.roll(s, tuple(range(1, n + 1)))
    return moves


def _features(x: torch.Tensor, margin: int) -> torch.Tensor:
    """Per interior position (margin cut from every side), the input's local values: a 3-wide neighbourhood
    per axis of every channel, the centre's squares, and a bias."""
    n = x.dim() - 1
    cols = []
    for offset in itertools.product((-1, 0, 1), repeat=n):
        cols.append(_interior(x.roll(tuple(-o for o in offset), tuple(range(1, n + 1))), margin))
    centre = _interior(x, margin)
    cols += [centre ** 2, torch.ones_like(centre[:1])]
    return torch.cat(cols).reshape(sum(c.shape[0] for c in cols), -1).T


def _interior(v: torch.Tensor, margin: int) -> torch.Tensor:
    return v[(slice(None),) + tuple(slice(margin, s - margin) for s in v.shape[1:])] if margin else v


def _score(x: torch.Tensor, targets: list[torch.Tensor]) -> list[Sample | None]:
    """Per target, the share of its variance the input's local model leaves, per transform of the target;
    None for a target that is constant, or for a grid too small for as many features."""
    grid = tuple(x.shape[1:])
    reach = 2 * max(1, min(3, min(grid) // 12))
    margin = reach + 1
    a = _features(x, margin)
    if a.shape[0] < 3 * a.shape[1]:
        return [None] * len(targets)  # too few positions for as many features: any target would fit
    u, s, _ = torch.linalg.svd(a, full_matrices=False)
    basis = u[:, s > s[0] * 1e-9]
    moves = _transforms(grid, reach)
    return [_fits(basis, t, moves, margin) for t in targets]


def _fits(basis: torch.Tensor, t: torch.Tensor, moves: dict[str, Callable[[torch.Tensor], torch.Tensor]],
          margin: int) -> Sample | None:
    k = t.shape[0]
    y = torch.cat([_interior(move(t), margin).reshape(k, -1) for move in moves.values()]).T  # (positions, moves*k)
    total = ((y - y.mean(0)) ** 2).sum(0).reshape(len(moves), k).sum(1)
    if not total[0] > 0:
        return None  # a constant target says nothing about where it is
    left = ((y ** 2).sum(0) - ((basis.T @ y) ** 2).sum(0)).reshape(len(moves), k).sum(1)
    # A move that carries all of the target out of the interior places nothing: it explains none of it (a small
    # region near the border must not cost the sample).
    share = torch.where(total > 0, left / total.clamp_min(1e-300), torch.ones_like(total))
    return Sample({name: max(0.0, float(v)) for name, v in zip(moves, share)})
