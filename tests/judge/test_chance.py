"""The loss of the best model that ignores its inputs (judge/numerics.py `chance_of`): for a classifier, the
entropy of the class frequencies fed, so a loss that only learned which classes are common reads as chance."""
import math

import torch

from traindoctor.judge.experiments import not_learning
from traindoctor.judge.numerics import chance_of
from traindoctor.measure.losses import chance_level
from traindoctor.measure.recorder import Recorder
from traindoctor.measure.tape import Term


def _recorder(loss: str, batches: list[torch.Tensor], n_classes: int) -> Recorder:
    rec = Recorder()
    logits = torch.zeros(len(batches[0]), n_classes) if loss == "cross_entropy" else torch.zeros(batches[0].shape)
    rec.first_loss = {"loss": loss, "value": 1.0, "step": 0, **chance_level(loss, {"input": logits, "target": batches[0]})}
    for t in batches:
        rec.batches.add_target(loss, t, classes=n_classes if loss == "cross_entropy" else None)
    return rec


def _entropy(p: list[float]) -> float:
    return -sum(q * math.log(q) for q in p if q)


def test_imbalanced_classes_give_their_entropy():
    gen = torch.Generator().manual_seed(0)
    batches = [torch.multinomial(torch.tensor([0.7, 0.2, 0.1]), 64, True, generator=gen) for _ in range(8)]
    h = chance_of(_recorder("cross_entropy", batches, 3))
    assert abs(h - _entropy([0.7, 0.2, 0.1])) < 0.05 and h < math.log(3)


def test_balanced_classes_stay_near_ln_c():
    batches = [torch.arange(64) % 4 for _ in range(1)] + [(torch.arange(64) + k) % 4 for k in range(1, 6)]
    assert abs(chance_of(_recorder("cross_entropy", batches, 4)) - math.log(4)) < 1e-9


def test_too_few_labels_keep_ln_c():
    assert chance_of(_recorder("cross_entropy", [torch.tensor([0, 0, 0, 1] * 8)], 5)) == math.log(5)


def test_multilabel_binary_targets_average_their_entropies():
    gen = torch.Generator().manual_seed(0)
    batches = [(torch.rand(64, 2, generator=gen) < torch.tensor([0.5, 0.05])).float() for _ in range(8)]
    h = chance_of(_recorder("binary_cross_entropy_with_logits", batches, 2))
    assert abs(h - (_entropy([0.5, 0.5]) + _entropy([0.05, 0.95])) / 2) < 0.05


def test_soft_binary_targets_are_no_labels():
    batches = [torch.rand(64, 1, generator=torch.Generator().manual_seed(k)) for k in range(8)]
    assert chance_of(_recorder("binary_cross_entropy", batches, 1)) == math.log(2)


def test_a_loss_that_learned_only_the_frequencies_does_not_learn():
    h = _entropy([0.7, 0.2, 0.1])  # 0.80 nats, ln 3 = 1.10
    losses = [1.1 - 0.35 * i / 200 for i in range(200)]  # still falling, towards the frequencies' entropy
    assert not_learning(losses, math.log(3)) is None
    assert "near chance" in not_learning(losses, h)


def test_two_call_sites_of_one_loss_function_keep_ln_c():
    """A contrastive loss over 128 pairings beside a 4-class probe, both cross_entropy: pooled, their
    frequencies describe neither."""
    rec = _recorder("cross_entropy", [torch.arange(128) for _ in range(4)], 128)
    gen = torch.Generator().manual_seed(0)
    for _ in range(8):
        rec.batches.add_target("cross_entropy", torch.randint(0, 4, (64,), generator=gen), classes=4)
    assert chance_of(rec) == math.log(128)


class _Head:
    """A loss head on tape reduced to its additive terms (measure/tape.py Term)."""

    def __init__(self, *terms):
        self._terms = [Term(i, w, name, only, not only) for i, (name, w, only) in enumerate(terms)]

    def terms(self):
        return self._terms


def _scaled(loss: str, n_classes: int, *terms) -> float:
    target = (torch.arange(64) % n_classes).float() * (1 if loss == "binary_cross_entropy_with_logits" else 3)
    rec = _recorder(loss, [target.long() if loss == "cross_entropy" else target], n_classes)
    rec.tapes = {1: [_Head(*terms)]}
    return chance_of(rec)


def test_a_loss_function_scaled_by_a_number_has_its_chance_scaled_with_it():
    # token cross-entropy divided again by the token count; an MSE halved and divided by the batch; a BCE
    # divided by an accumulation count, with an L2 penalty on the weights beside it
    assert abs(_scaled("cross_entropy", 24, ("cross_entropy", 1 / 1024, False)) - math.log(24) / 1024) < 1e-12
    mse = _scaled("mse_loss", 5, ("mse_loss", 1.0, False))
    assert mse > 0 and abs(_scaled("mse_loss", 5, ("mse_loss", 0.5 / 64, False)) - mse * 0.5 / 64) < 1e-12
    bce = _scaled("binary_cross_entropy_with_logits", 2, ("binary_cross_entropy_with_logits", 1.0, False))
    assert abs(_scaled("binary_cross_entropy_with_logits", 2, ("binary_cross_entropy_with_logits", 0.25, False),
                       ("sum", 1e-4, True)) - bce / 4) < 1e-12
    losses = [(3.4 - 0.6 * i / 200) / 1024 for i in range(200)]  # falls 17%, still above 0.85 ln 24
    assert not_learning(losses, math.log(24)) is None
    assert "near chance" in not_learning(losses, _scaled("cross_entropy", 24, ("cross_entropy", 1 / 1024, False)))


def test_a_loss_of_several_terms_or_another_call_keeps_the_functions_chance():
    ln = math.log(10)
    assert _scaled("cross_entropy", 10, ("cross_entropy", 1.0, False), ("mse_loss", 0.5, False)) == ln
    assert _scaled("cross_entropy", 10, ("nll_loss", 0.1, False)) == ln
    assert _scaled("cross_entropy", 10) == ln
