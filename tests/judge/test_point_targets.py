"""Point targets on their inputs (measure/points.py, judge/points.py): a keypoint, box corner or cell index
must sit on content alike across samples. Left behind when the image alone was flipped or turned, it does so
only with the image moved back (targets-displaced); an index built in the other axis order sits there only
transposed (targets-misaligned). Targets moved with their images stay quiet."""

import math

import torch
from torch.utils._pytree import tree_flatten

from traindoctor.judge.points import judge
from traindoctor.measure import points
from traindoctor.measure.tape import Const, Op, Slot, Tape


class _Tape:
    """What measure/points.py reads of a loss head on tape: the model call's batch and the loss call."""
    loss_calls = Tape.loss_calls

    def __init__(self, x, target, loss, scored_shape):
        leaves, spec = tree_flatten(((Slot(1), Const(target)), {}))
        self.batch = ((x,), {})
        self.ops = [Op(torch.flatten, None, [Slot(0)], [1], False, [scored_shape]),
                    Op(loss, spec, leaves, [2], False, [()])]


def _blob(n, s, at, width, gen, amp=1.0):
    """(n, s, s) noise with a gaussian at each (row, col) of at."""
    yy, xx = torch.meshgrid(torch.arange(s).double(), torch.arange(s).double(), indexing="ij")
    d2 = (yy[None] - at[:, 0, None, None]) ** 2 + (xx[None] - at[:, 1, None, None]) ** 2
    return amp * torch.exp(-d2 / (2 * width ** 2)) + 0.1 * torch.randn(n, s, s, generator=gen, dtype=torch.float64)


def _tapes(make, batches=6, batch=32):
    gen = torch.Generator().manual_seed(0)
    return [make(batch, gen) for _ in range(batches)]


def _codes(tapes, stuck=None):
    return [f.code for f in judge(points.measure(tapes), stuck, "Net", "run")]


def _index_tape(transposed):
    def make(n, gen):
        s = 20
        rc = torch.randint(2, s - 2, (n, 2), generator=gen)
        x = _blob(n, s, rc.double(), 0.8, gen)[:, None].float()
        r, c = (rc[:, 1], rc[:, 0]) if transposed else (rc[:, 0], rc[:, 1])
        return _Tape(x, r * s + c, torch.nn.functional.cross_entropy, (n, s * s))
    return make


def test_a_cell_index_built_in_the_other_axis_order_is_misaligned():
    assert _codes(_tapes(_index_tape(True))) == ["targets-misaligned"]
    assert _codes(_tapes(_index_tape(False))) == []


def _keypoint_tape(flip_targets, flip=True):
    """A spot's (x, y) in [0, 1] on 16x16 images, half of them mirrored left-right."""
    def make(n, gen):
        s = 16
        xy = torch.rand(n, 2, generator=gen, dtype=torch.float64) * 0.8 + 0.1
        x = _blob(n, s, torch.stack([xy[:, 1] * s - 0.5, xy[:, 0] * s - 0.5], -1), 1.0, gen)[:, None]
        mirrored = (torch.rand(n, generator=gen) < 0.5) & flip
        x[mirrored] = x[mirrored].flip(-1)
        if flip_targets:
            xy[mirrored, 0] = 1 - xy[mirrored, 0]
        return _Tape(x.float(), xy.float(), torch.nn.functional.mse_loss, (n, 2))
    return make


def test_a_keypoint_left_behind_by_a_flip_of_the_image_is_displaced():
    assert _codes(_tapes(_keypoint_tape(False))) == ["targets-displaced"]
    assert _codes(_tapes(_keypoint_tape(True))) == []


def _landmark_tape(turn_targets):
    """Two landmarks (a bright and a dark mark on a 2-channel 24x24 image), (x, y) in [-1, 1], the image turned
    by a random multiple of a quarter turn."""
    def make(n, gen):
        s = 24
        centre = torch.rand(n, 1, 2, generator=gen, dtype=torch.float64) * 8 + 8
        angle = torch.rand(n, 1, generator=gen, dtype=torch.float64) * 2 * math.pi
        offset = torch.stack([angle.cos(), angle.sin()], -1) * torch.tensor([[4.0], [-4.0]], dtype=torch.float64)
        rc = centre + offset  # (n, 2 landmarks, (row, col))
        img = torch.stack([_blob(n, s, rc[:, 0], 1.0, gen) - 0.8 * _blob(n, s, rc[:, 1], 1.5, gen, 1.0),
                           _blob(n, s, rc[:, 1], 2.0, gen, 0.5)], 1)
        k = torch.randint(0, 4, (n,), generator=gen)
        for i in range(n):
            img[i] = torch.rot90(img[i], int(k[i]), (-2, -1))
            if turn_targets:
                for _ in range(int(k[i])):  # rot90 by one: (r, c) -> (s - 1 - c, r)
                    rc[i] = torch.stack([s - 1 - rc[i, :, 1], rc[i, :, 0]], -1)
        xy = torch.stack([rc[..., 1], rc[..., 0]], -1)
        target = (xy + 0.5) / (s / 2) - 1.0
        return _Tape(img.float(), target.reshape(n, -1).float(), torch.nn.functional.mse_loss, (n, 4))
    return make


def test_landmarks_left_behind_by_a_turn_of_the_image_are_displaced():
    assert _codes(_tapes(_landmark_tape(False))) == ["targets-displaced"]
    assert _codes(_tapes(_landmark_tape(True))) == []


def _box_tape(n, gen):
    """Boxes (x1, y1, x2, y2) in pixels of a bright rectangle on a 3-channel 32x32 image: in place."""
    s = 32
    wh = torch.randint(8, 16, (n, 2), generator=gen)
    x1 = torch.stack([torch.randint(0, int(s - w), (1,), generator=gen)[0] for w in wh[:, 0]])
    y1 = torch.stack([torch.randint(0, int(s - h), (1,), generator=gen)[0] for h in wh[:, 1]])
    img = 0.3 + 0.05 * torch.randn(n, 3, s, s, generator=gen)
    for i in range(n):
        img[i, :, y1[i]:y1[i] + wh[i, 1], x1[i]:x1[i] + wh[i, 0]] = 0.9
    box = torch.stack([x1, y1, x1 + wh[:, 0], y1 + wh[:, 1]], -1).float()
    return _Tape(img, box, torch.nn.functional.smooth_l1_loss, (n, 4))


def test_boxes_in_place_and_unlocated_targets_are_quiet():
    assert _codes(_tapes(_box_tape), "the loss stays near chance level") == []
    noise = _keypoint_tape(False, flip=False)

    def unrelated(n, gen):
        tape = noise(n, gen)
        tape.batch = ((torch.randn(n, 1, 16, 16, generator=gen),), {})
        return tape
    assert _codes(_tapes(unrelated)) == []


def _hollow_tape(n, gen):
    """Rings, squares and crosses of random size at random centres on noisy 32x32 images, their true centres in
    pixels: a ring's centre is empty, so few targets sit on content alike across samples."""
    s = 32
    yy, xx = torch.meshgrid(torch.arange(s).float(), torch.arange(s).float(), indexing="ij")
    img = 0.15 * torch.randn(n, 1, s, s, generator=gen)
    centre = torch.rand(n, 2, generator=gen) * 18 + 7
    radius = torch.rand(n, generator=gen) * 3 + 3.5
    kind = torch.randint(0, 3, (n,), generator=gen)
    for i in range(n):
        dx, dy = xx - centre[i, 0], yy - centre[i, 1]
        d = (dx ** 2 + dy ** 2).sqrt()
        shape = [(d <= radius[i]) & (d >= 0.55 * radius[i]),
                 (dx.abs() <= 0.85 * radius[i]) & (dy.abs() <= 0.85 * radius[i]),
                 ((dx.abs() <= 0.3 * radius[i]) & (dy.abs() <= radius[i])) | ((dy.abs() <= 0.3 * radius[i]) & (dx.abs() <= radius[i]))]
        img[i, 0] += shape[int(kind[i])].float() * 0.8
    return _Tape(img, centre, torch.nn.functional.mse_loss, (n, 2))


def _rows_tape(n, gen):
    """Tabular rows of 64 features (read as an 8x8 grid) and two [0, 1] targets that are no position."""
    x = torch.randn(n, 1, 8, 8, generator=gen)
    return _Tape(x, torch.sigmoid(x.flatten(1)[:, :2] + 0.5 * torch.randn(n, 2, generator=gen)),
                 torch.nn.functional.mse_loss, (n, 2))


def test_hits_no_stronger_than_chance_are_not_a_displacement():
    # Moves add up chance's hits: a few of them every move; a displacement's sit on their content clearly.
    assert _codes(_tapes(_hollow_tape, batches=8, batch=64)) == []
    assert _codes(_tapes(_rows_tape, batches=8, batch=64)) == []
