"""The bootstrap probe: the part of a loss target that came from a model's no-grad output, sample by sample,
measured by forward-mode AD on sampled steps without changing any value; the batch's 0/1 flags read from the
caller's variables; no probe inside the script's own forward AD."""
from collections import namedtuple

import torch
import torch.autograd.forward_ad as fwAD

from traindoctor.measure.bootstrap import Bootstrap

Batch = namedtuple("Batch", "reward done")


def _target(probe, step, done):
    net = torch.nn.Linear(3, 2)
    s2, r = torch.randn(4, 3), torch.tensor([1.0, -0.5, 0.0, 2.0])
    batch = Batch(r, done)  # noqa: F841 — read by the probe from this frame
    with torch.no_grad():
        q2 = probe.arm(net, net(s2), step)
        y = r + 0.9 * (1 - done) * q2.max(1).values
    probe.loss_target(y, dict)
    return y, r + 0.9 * (1 - done) * net(s2).max(1).values


def test_the_bootstrap_part_and_the_flags_of_a_sampled_step():
    probe, done = Bootstrap(), torch.tensor([0.0, 1.0, 0.0, 0.0])
    y, expected = _target(probe, 10, done)
    assert torch.equal(y, expected) and fwAD.unpack_dual(y).tangent is None  # values unchanged, no tangent left
    seen, = probe.observations
    assert seen.boot.tolist() == [True, False, True, True]
    assert seen.reward.tolist() == [True, True, False, True]
    assert seen.flags["done"].tolist() == seen.flags["batch.done"].tolist() == [False, True, False, False]
    assert "batch.reward" not in seen.flags  # not 0/1


def test_steps_between_probes_and_the_scripts_own_forward_ad_are_left_alone():
    probe = Bootstrap()
    _target(probe, 11, torch.zeros(4))
    with fwAD.dual_level():
        _target(probe, 20, torch.zeros(4))
    assert probe.observations == [] and probe.opened == 0
