"""Severity follows consequence for what limits the model's expressive power: a linear stack (no-nonlinearity)
is an error when the loss does not learn, and only information when it learned — a linear map fits the task."""
import pytest

from traindoctor.judge.probes import follow_consequence, no_nonlinearity, saturated_activations


def linear_stack():
    found, _ = no_nonlinearity("up", 2, 1e-7, [], "LowRankMap", {})
    return found


@pytest.mark.parametrize("stuck, how, severity", [
    ("the loss stopped falling halfway", None, "error"),
    (None, None, "warning"),  # neither stuck nor shown to learn (a short run, checkup)
    (None, "the loss learns (6.6 → 0.0026)", "info"),
])
def test_a_linear_stack_is_as_serious_as_what_the_loss_shows(stuck, how, severity):
    found, = follow_consequence([linear_stack()], stuck, how)
    assert found.severity == severity
    assert how is None or how in found.observation


@pytest.mark.parametrize("at_start, stuck, severity", [
    (0.64, "the loss stays near chance level (1.16 against 0.693)", "error"),  # pinned by the initialisation
    (0.64, None, "info"),  # pinned from the start, yet the loss learned past it
    (0.02, "the loss stays near chance level (1.16 against 0.693)", "warning"),  # pinned only after training
])
def test_sigmoids_pinned_from_the_start_are_as_serious_as_what_the_loss_shows(at_start, stuck, severity):
    layers = {"1": {"kind": "sigmoid", "saturated_fraction": 0.64, "at_start": at_start}}
    found, = follow_consequence([saturated_activations(layers, trained=True)], stuck)
    assert found.severity == severity
    assert ("weights training started from" in found.observation) == (at_start >= 0.5)
