"""Severity follows consequence for what limits the model's expressive power: a linear stack (no-nonlinearity)
is an error when the loss does not learn, and only information when it learned — a linear map fits the task."""
import pytest

from traindoctor.judge.probes import follow_consequence, no_nonlinearity


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
