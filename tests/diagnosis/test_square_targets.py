"""A target whose two leading dims both have the batch's size: which holds the samples is unknown, unless the
target is an input of the batch shifted ahead (next-token targets sliced from a square (B, T) batch) — its
samples are then where that input holds them, and sample 0's entries can be changed."""

import torch

from traindoctor.diagnosis.loss_independence import _samples_changed


def _batch(b, t, seed=0):
    return torch.randint(0, 40, (b, t + 1), generator=torch.Generator().manual_seed(seed))


def test_square_next_token_targets_are_changed_on_the_inputs_batch_dim():
    for b, axis in ((8, 0), (12, 0)):
        tokens = _batch(b, b)
        inp, tgt = tokens[:, :-1], tokens[:, 1:]
        changed = _samples_changed(tgt.reshape(-1), b, axis, (b, b), ((inp,), {}))
        assert changed is not None
        moved, _ = changed
        diff = (moved.reshape(b, b) != tgt).any(1)
        assert bool(diff[0]) and not bool(diff[1:].any())


def test_time_first_square_targets_follow_a_time_first_input():
    tokens = _batch(6, 6).t()  # (T + 1, B)
    inp, tgt = tokens[:-1], tokens[1:]
    moved, _ = _samples_changed(tgt, 6, 1, None, ((inp,), {}))
    diff = (moved != tgt).any(0)
    assert bool(diff[0]) and not bool(diff[1:].any())


def test_square_targets_unrelated_to_the_inputs_stay_unchanged():
    tokens, other = _batch(8, 8), _batch(8, 8, seed=1)
    assert _samples_changed(other[:, 1:], 8, 0, None, ((tokens[:, :-1],), {})) is None
    assert _samples_changed(tokens[:, 1:], 8, 0, None) is None
