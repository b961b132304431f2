"""The rules on printed measures of success (judge/printed.py), on series written out directly."""
import math
from types import SimpleNamespace

from traindoctor.judge.printed import check
from traindoctor.measure.printed import Printed


def recording(label, values, losses=None):
    printed = Printed()
    for i, v in enumerate(values):
        printed.write(f"step {10 * i} {label} {v}\n", 10 * i)
    losses = losses if losses is not None else [2.0 * 0.97 ** i for i in range(10 * len(values))]
    return SimpleNamespace(printed=printed, source="run", nonfinite=None, first_loss=None, n_steps=len(losses),
                           records=[{"step": i, "loss": x} for i, x in enumerate(losses)])


def found(rec):
    return [f.code for f in check(rec)]


def test_a_score_that_gets_worse_is_a_mismatch_and_a_reward_a_sign():
    falling = [0.62, 0.55, 0.48, 0.41, 0.35, 0.3, 0.26, 0.22, 0.2]
    assert found(recording("val acc", falling)) == ["loss-metric-mismatch"]
    assert found(recording("val acc", [100 * v for v in falling])) == ["loss-metric-mismatch"]  # a percentage
    assert found(recording("episode reward", [-5, -9, -14, -20, -24, -27, -30])) == ["loss-sign-flipped"]


def test_noise_a_lucky_first_print_and_an_overfitting_dip_are_not_worse():
    noisy = [0.5 + 0.04 * math.sin(3 * i) for i in range(12)]
    assert found(recording("acc", [0.6] + noisy)) == []  # the first print 0.1 above a noisy level
    assert found(recording("return", [120] + [100 + 15 * math.sin(2 * i) for i in range(12)])) == []
    assert found(recording("val acc", [0.3, 0.6, 0.8, 0.85, 0.83, 0.8, 0.78, 0.76])) == []  # rose, then overfits


def test_a_bounded_score_stuck_low_while_the_loss_learns():
    assert found(recording("accuracy", [0.1, 0.11, 0.1, 0.1, 0.11, 0.1])) == ["loss-metric-mismatch"]
    # ...but not high and flat (converged), not when the loss did not learn, and not for a reward
    assert found(recording("accuracy", [0.97, 0.98, 0.98, 0.97, 0.98, 0.98])) == []
    assert found(recording("accuracy", [0.1, 0.11, 0.1, 0.1, 0.11, 0.1], losses=[2.0] * 60)) == []
    assert found(recording("reward", [0.1, 0.11, 0.1, 0.1, 0.11, 0.1])) == []


def test_numbers_that_are_not_success_are_not_judged():
    assert found(recording("lr", [1.0, 0.5, 0.25, 0.12, 0.06, 0.03])) == []
    assert found(recording("error", [0.9, 0.7, 0.5, 0.3, 0.2, 0.1])) == []
