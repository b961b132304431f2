"""activation-on-logits on what loss calls receive: logits a loss expects unbounded (cross_entropy, a
with-logits loss, nll_loss after log_softmax) squashed by the op that made them — a sigmoid, a tanh, a clamp —
into a range that holds the loss above a tenth of chance; and healthy look-alikes that bound them loosely or
not at all (a wide clamp, a temperature, a scaled soft cap, a tanh inside the model), or feed probabilities to
a probability loss."""
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from traindoctor.judge.loss import flags
from traindoctor.measure.losses import observe_call

g = torch.Generator().manual_seed(0)
H = torch.randn(32, 16, generator=g)
HEAD = nn.Linear(16, 5)
Y = torch.randint(0, 5, (32,), generator=g)
BITS = (torch.rand(32, 5, generator=g) > 0.5).float()


def flagged(name, scores, target):
    seen = observe_call(name, {"input": scores, "target": target})
    return flags([{**seen, "step": 0, "location": {}}])


def z():
    return HEAD(H)


BROKEN = {
    "sigmoid into cross_entropy": lambda: ("cross_entropy", torch.sigmoid(z()), Y),
    "nn.Tanh head into cross_entropy": lambda: ("cross_entropy", nn.Sequential(HEAD, nn.Tanh())(H), Y),
    "clamp to [-1, 1] into cross_entropy": lambda: ("cross_entropy", z().clamp(-1, 1), Y),
    "tanh under log_softmax into nll_loss": lambda: ("nll_loss", F.log_softmax(torch.tanh(z()), 1), Y),
    "tanh into a with-logits loss": lambda: ("binary_cross_entropy_with_logits", torch.tanh(z()), BITS),
    "per-token sigmoid scores (N, C, T)": lambda: ("cross_entropy", torch.sigmoid(z()).view(8, 4, 5).transpose(1, 2),
                                                   Y.view(8, 4)),
}


@pytest.mark.parametrize("case", BROKEN)
def test_bounded_logits_give_the_loss_a_floor(case):
    name, scores, target = BROKEN[case]()
    ev, = flagged(name, scores, target)["activation-on-logits"]
    assert ev["chance"] * 0.1 <= ev["floor"] < ev["chance"]


def test_the_floor_is_the_best_the_bounded_logits_allow():
    """Five classes in (0, 1): the target at 1, the rest at 0 — cross-entropy ln(1 + 4/e)."""
    ev, = flagged("cross_entropy", torch.sigmoid(z()), Y)["activation-on-logits"]
    assert ev["floor"] == pytest.approx(math.log1p(4 / math.e))


HEALTHY = {
    "clamp to +-50 for stability": lambda: ("cross_entropy", z().clamp(-50, 50), Y),
    "temperature": lambda: ("cross_entropy", z() / 2.0, Y),
    "soft cap 30 tanh(z / 30)": lambda: ("cross_entropy", 30 * torch.tanh(z() / 30), Y),
    "tanh inside, linear head": lambda: ("cross_entropy", HEAD(torch.tanh(H)), Y),
    "sigmoid into binary_cross_entropy": lambda: ("binary_cross_entropy", torch.sigmoid(z()), BITS),
    "log_softmax into nll_loss": lambda: ("nll_loss", F.log_softmax(z(), 1), Y),
}


@pytest.mark.parametrize("case", HEALTHY)
def test_logits_bounded_loosely_or_not_at_all_are_not_named(case):
    name, scores, target = HEALTHY[case]()
    assert "activation-on-logits" not in flagged(name, scores, target)


@pytest.mark.parametrize("name, scores, target, code", [
    ("cross_entropy", lambda: F.softmax(z(), 1), Y, "double-softmax"),
    ("binary_cross_entropy_with_logits", lambda: torch.sigmoid(z()), BITS, "double-sigmoid"),
])
def test_the_loss_squashing_again_is_named_as_such_alone(name, scores, target, code):
    found = flagged(name, scores(), target)
    assert code in found and "activation-on-logits" not in found
