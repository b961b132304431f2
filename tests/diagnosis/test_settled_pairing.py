"""The permutation test is not run when a conclusive finding already answers its question: an error whose
catalog entry explains labels-decoupled (targets laid out or placed where their inputs are not)."""

import pytest
import torch
from torch import nn

from traindoctor.diagnosis import experiments
from traindoctor.judge.experiments import pairing_settled


@pytest.mark.parametrize("codes, settled", [
    (("targets-misaligned",), "targets-misaligned"),  # targets laid out in another order than the outputs
    (("lr-too-high", "targets-displaced"), "targets-displaced"),  # targets left behind by an augmentation
    (("labels-decoupled",), "labels-decoupled"),
    (("lr-too-high",), None),  # a cause of a stall that says nothing of the pairing
    ((), None),
])
def test_a_cause_that_explains_decoupled_labels_settles_the_pairing(codes, settled):
    assert pairing_settled(codes) == settled


def _material(settled, make, width):
    torch.manual_seed(0)
    model = make()
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    heads = []
    for _ in range(4):
        x, y = torch.randn(8, *width), torch.randn(8, 1)
        heads.append(experiments.FunctionLoss(((x,), {}), y, nn.functional.mse_loss))
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    return experiments.Material(model, heads, opt, initial, settled=settled)


@pytest.mark.parametrize("make, width", [
    (lambda: nn.Linear(5, 1), (5,)),
    (lambda: nn.Sequential(nn.Conv1d(2, 3, 3), nn.Flatten(), nn.Linear(12, 1)), (2, 6)),
    (lambda: nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 1)), (4,)),
])
def test_the_permutation_test_runs_unless_settled(make, width):
    def held_out(settled):
        _, observations = experiments.run(_material(settled, make, width), "asked", steps=3)
        return next(o for o in observations if o["name"] == "held-out-batch")
    assert held_out(("lr-too-high",))["measured"]["batches"]
    skipped = held_out(("targets-misaligned",))
    assert skipped["measured"] == {} and "not run: `targets-misaligned`, found" in skipped["outcome"]
