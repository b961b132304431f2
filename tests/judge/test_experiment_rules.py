"""The differential diagnosis's judge: when the loss calls for experiments, and what the arms' numbers show."""
import math

import pytest

from traindoctor.diagnosis.experiments import Arm
from traindoctor.judge.experiments import judge, learned, not_learning, unpaired

CONTEXT = {"lr": 1e-3, "initial_lr": None, "weight_decay": 0.0, "penalized": False, "steps": 50, "source": "run",
           "optimizer": "SGD"}


def curve(first, last, n=50):
    return [first + (last - first) * i / (n - 1) for i in range(n)]


@pytest.mark.parametrize("losses, why", [
    ([2.3] * 40, "does not fall"),
    (curve(1.0, 1.5), "rises"),
    ([1.0] * 10 + [math.nan], "went non-finite"),
    (curve(3.0, 1.0, 20) + [1.0] * 30, "stopped falling halfway"),
])
def test_the_loss_calls_for_experiments(losses, why):
    assert not_learning(losses) == why


@pytest.mark.parametrize("losses", [curve(2.3, 0.2), curve(5.0, -3.0), [2.0, 1.0, 0.5, 0.3, 0.2]])
def test_a_loss_that_falls_or_is_too_short_does_not(losses):
    assert not_learning(losses) is None


def test_a_loss_learned_when_it_fell_to_half_its_start_or_less_without_a_stall():
    assert learned(curve(6.5, 0.003)) == "the loss learns (6.23 → 0.268)"  # medians of the first and last tenth


@pytest.mark.parametrize("losses, chance", [
    (curve(1.0, 0.7), None),  # falls, but not to half
    (curve(3.0, 1.0, 20) + [1.0] * 30, None),  # a stall halfway
    (curve(1.6, 0.7), 0.75),  # down to half, but near chance
    ([2.0, 1.0, 0.5, 0.3, 0.2], None),  # too short to judge
])
def test_a_loss_short_of_that_has_not_learned(losses, chance):
    assert learned(losses, chance) is None


def test_near_chance_calls_for_experiments_only_with_a_chance_level():
    losses = curve(1.6, 1.25)  # falls steadily, but ends near ln 4
    assert not_learning(losses) is None
    assert not_learning(losses, chance=math.log(4)).startswith("stays near chance level")
    assert not_learning(curve(2.3, 0.5), chance=math.log(10)) is None


def arms(**falls):
    """Arms whose batch loss goes from 1.0 down by the given share (None: non-finite)."""
    out = {}
    for name, fall in falls.items():
        name = name.replace("_", "-").replace("x01", "x0.1")
        last = math.nan if fall is None else 1.0 - fall
        out[name] = Arm(name, [1.0, last], None)
    return out


def codes(found):
    return [f.code for f in found]


def test_lr_x10_unsticks_a_stuck_baseline():
    found, obs = judge(arms(baseline=0.02, lr_x10=0.6, lr_x01=0.0), CONTEXT)
    assert codes(found) == ["lr-too-low"]
    assert found[0].evidence["confirmed_by"] == "experiment"
    assert {o["name"] for o in obs} == {"baseline", "lr-x10", "lr-x0.1"}


def test_initial_lr_names_the_schedule_not_the_rate():
    context = {**CONTEXT, "lr": 1e-6, "initial_lr": 1e-2}
    a = arms(baseline=0.0, initial_lr=0.9, lr_x10=0.5, lr_x01=0.0)
    assert codes(judge(a, context)[0]) == ["scheduler-too-fast"]


def _schedule(lrs, losses):
    return {**CONTEXT, "lr": lrs[-1], "initial_lr": max(lrs), "peak_lr": max(lrs), "rates": list(zip(lrs, losses))}


# 60 recorded steps at 1e-2, then 40 at 1e-6; the loss stops where the rate falls, or had flattened long before.
STEP_DOWN = [1e-2] * 60 + [1e-6] * 40
CUT_SHORT = curve(2.0, 1.0, 60) + [1.0] * 40
CONVERGED = curve(2.0, 0.1, 20) + [0.1 + 0.02 * (i % 3) for i in range(80)]  # flat (and noisy) from step 20


def test_a_schedule_that_cuts_a_falling_loss_short_is_too_fast():
    found, obs = judge(arms(baseline=0.0, initial_lr=0.5, lr_x10=0.0, lr_x01=0.0), _schedule(STEP_DOWN, CUT_SHORT))
    assert codes(found) == ["scheduler-too-fast"]
    assert next(o for o in obs if o["name"] == "initial-lr")["keeps"]


def test_annealing_a_loss_that_had_converged_at_the_high_rate_is_not_a_collapse():
    # One batch fits further at the old rate (memorising it); the run's loss had flattened while the rate was high.
    a = arms(baseline=0.0, initial_lr=0.5, lr_x10=0.4, lr_x01=0.0)
    found, obs = judge(a, _schedule(STEP_DOWN, CONVERGED))
    assert found == []
    assert "stopped falling" in next(o for o in obs if o["name"] == "initial-lr")["outcome"]


def test_too_few_steps_at_the_high_rate_cannot_show_convergence():
    lrs, losses = [1e-2] * 10 + [1e-6] * 90, curve(2.0, 1.0, 10) + [1.0] * 90
    assert codes(judge(arms(baseline=0.0, initial_lr=0.5, lr_x10=0.0, lr_x01=0.0), _schedule(lrs, losses))[0]) == \
        ["scheduler-too-fast"]


def test_a_schedule_that_never_reaches_its_rate_holds_it_too_low():
    # A warmup longer than the run: the rate rose to 1e-5 of the 1e-3 it is set to, and never fell.
    lrs = [1e-5 * (i + 1) / 100 for i in range(100)]
    context = {**_schedule(lrs, [2.0] * 100), "initial_lr": 1e-3}
    found, _ = judge(arms(baseline=0.0, initial_lr=0.6, lr_x10=0.0, lr_x01=0.0), context)
    assert codes(found) == ["lr-too-low"]
    assert "never raised" in found[0].observation


def test_lr_x01_rescues_a_diverging_baseline():
    found, _ = judge(arms(baseline=None, lr_x10=None, lr_x01=0.5), CONTEXT)
    assert codes(found) == ["lr-too-high"]


@pytest.mark.parametrize("falls", [
    dict(baseline=0.6, lr_x10=0.9, lr_x01=0.2),  # the baseline fits: the rate is not what stops it
    dict(baseline=0.02, lr_x10=0.03, lr_x01=0.0),  # nothing moves: no factor is named
    dict(baseline=0.02, lr_x10=0.2, lr_x01=0.0),  # x10 moves, but not clearly
])
def test_no_rate_is_named_without_a_clear_rescue(falls):
    assert judge(arms(**falls), CONTEXT)[0] == []


def test_regularisation_off_moving_the_data_term():
    a = arms(baseline=0.01, lr_x10=0.02, lr_x01=0.0)
    a["baseline"].data = (1.25, 1.24)
    a["regularisation-off"] = Arm("regularisation-off", [1.26, 0.7], (1.25, 0.7))
    found, obs = judge(a, {**CONTEXT, "penalized": True})
    assert codes(found) == ["over-regularization"]
    assert next(o for o in obs if o["name"] == "regularisation-off")["keeps"]


def test_light_regularisation_is_not_named():
    a = arms(baseline=0.01, lr_x10=0.02, lr_x01=0.0)
    a["regularisation-off"] = Arm("regularisation-off", [1.0, 0.98], None)
    assert judge(a, {**CONTEXT, "weight_decay": 1e-4})[0] == []


def _trained_at_the_floor_held_back_from_the_start(held_back):
    """Trained weights at the floor a setting sets (the data term 0.09 with it on, 0.01 off); from the start,
    with it on, the data term falls to 0.15 or (`held_back`) stays at 1.5."""
    a = arms(baseline=0.0, lr_x10=0.0, lr_x01=0.0)
    a["baseline"].data = (0.09, 0.09)
    a["regularisation-off"] = Arm("regularisation-off", [0.09, 0.01], (0.09, 0.01))
    a["regularised-from-start"] = Arm("regularised-from-start", [1.6, 1.55], (1.6, 1.5 if held_back else 0.15))
    a["regularisation-off-from-start"] = Arm("regularisation-off-from-start", [1.6, 0.02], (1.6, 0.02))
    return a


@pytest.mark.parametrize("setting", [{"dropout": [0.5, 0.5]}, {"smoothing": [(0.1, 5)]}])
def test_a_setting_whose_floor_trained_weights_sit_at_is_not_named(setting):
    assert judge(_trained_at_the_floor_held_back_from_the_start(False), {**CONTEXT, **setting})[0] == []


def test_the_same_fall_without_a_setting_is_a_penalty_holding_the_weights():
    found, _ = judge(_trained_at_the_floor_held_back_from_the_start(False), {**CONTEXT, "penalized": True})
    assert codes(found) == ["over-regularization"]


def test_a_setting_that_holds_the_data_term_back_from_the_start_is_named_with_its_floor():
    found, obs = judge(_trained_at_the_floor_held_back_from_the_start(True), {**CONTEXT, "smoothing": [(0.9, 5)]})
    assert codes(found) == ["over-regularization"]
    said = found[0].observation
    assert "label smoothing 0.9" in said and "cannot go below 1.59 (chance: 1.61)" in said, said


SPREAD = [-0.2, -0.1, -0.05, 0.0, 0.05, 0.1, 0.15, 0.2, 0.25]


def _batch(real_before, real_after, shuffled_before, shuffled_after):
    """One batch left out: the shuffled pairings all start at `shuffled_before` and end spread around
    `shuffled_after`, so the fit lowered each by shuffled_before - shuffled_after - spread."""
    return {"real_before": real_before, "real_after": real_after, "shuffled_before": [shuffled_before] * 9,
            "shuffled_after": [shuffled_after + d for d in SPREAD]}


# A control pairing the fit carried over (the fit lowered its loss 1.3, each shuffle's 0.2 or less), and one
# it did not (the control's gain in the middle of its shuffles').
POWERED = [_batch(2.3, 1.0, 2.3, 2.3)] * 3
POWERLESS = [_batch(2.3, 2.35, 2.3, 2.35)] * 3
# A fit that moved nothing (Adam at lr 1e-6): the control's loss fell 4e-5, its shuffles' rose 1e-5 — an
# order at float rounding, ahead of every shuffle on gain and below them after, by less than 1e-4 of the loss.
STILL = [{"real_before": 1.61846, "real_after": 1.61842, "shuffled_before": [1.61850 + 1e-5 * k for k in range(9)],
          "shuffled_after": [1.61851 + 1e-5 * k for k in range(9)]}] * 3


def held(real_before, real_after, shuffled_before, shuffled_after, control=POWERED):
    b = _batch(real_before, real_after, shuffled_before, shuffled_after)
    return {**b, "batches": [b], "trained_on": 3, "control": control}


def test_a_fit_no_better_than_shuffled_pairings_is_labels_decoupled():
    a = arms(baseline=0.8, lr_x10=0.9, lr_x01=0.3)
    a["baseline"].held_out = held(2.3, 2.6, 2.3, 2.5)  # the fit lowered 5 of 9 shuffles more than the real one
    found, _ = judge(a, CONTEXT)
    assert codes(found) == ["labels-decoupled"]


@pytest.mark.parametrize("control", [None, POWERLESS, STILL])
def test_no_relation_is_not_claimed_without_the_power_to_see_one(control):
    """A relation the budget cannot teach (a tagger of neighbouring tokens) transfers no better than decoupled
    labels: without a control pairing the fit carried over, the test has no power and stays silent."""
    a = arms(baseline=0.8, lr_x10=0.9, lr_x01=0.3)
    a["baseline"].held_out = held(2.3, 2.6, 2.3, 2.5, control=control)
    found, obs = judge(a, CONTEXT)
    assert found == []
    outcome = next(o for o in obs if o["name"] == "held-out-batch")
    assert not outcome["keeps"]
    assert control is None or "cannot see a learnable relation" in outcome["outcome"]


def test_what_the_fit_gained_decides_not_where_the_random_start_put_the_real_pairing():
    """The copy's random initial function disfavoured the real pairing (2.6 against 2.3): after the fit it sits
    among the shuffles, yet the fit lowered it further than any of them — a relation being learned."""
    a = arms(baseline=0.8, lr_x10=0.9, lr_x01=0.3)
    a["baseline"].held_out = held(2.6, 2.35, 2.3, 2.3)
    assert judge(a, CONTEXT)[0] == []


def test_a_loss_that_goes_below_zero_is_no_fit_to_test_pairings_on():
    """A policy-gradient surrogate over normalised advantages: pairings at -0.004 against -0.013..0.006 say
    nothing of the labels."""
    a = arms(baseline=0.8, lr_x10=0.9, lr_x01=0.3)
    a["baseline"].held_out = held(0.09, -0.004, 0.08, -0.004)
    found, obs = judge(a, CONTEXT)
    assert found == []
    outcome = next(o for o in obs if o["name"] == "held-out-batch")
    assert not outcome["keeps"] and "below zero" in outcome["outcome"]
    a["baseline"].held_out = held(2.3, 2.6, 2.3, 2.5)  # the same spread above zero is decoupled
    assert codes(judge(a, CONTEXT)[0]) == ["labels-decoupled"]


@pytest.mark.parametrize("h", [
    held(2.3, 1.9, 2.3, 2.4),  # after the fit, the real pairing beats every shuffled one
    held(0.5, 0.6, 2.9, 3.0),  # far better on the real pairing: the model uses its inputs
])
def test_a_real_pairing_better_than_every_shuffle_clears_the_labels(h):
    a = arms(baseline=0.8, lr_x10=0.9, lr_x01=0.3)
    a["baseline"].held_out = h
    found, obs = judge(a, CONTEXT)
    assert found == []
    assert "the targets do not follow the inputs" in next(o for o in obs if o["name"] == "held-out-batch")["kills"]


def test_a_real_pairing_among_the_best_few_is_not_called_decoupled():
    """The fit lowered one shuffled pairing of nine more than the real one: weak evidence of a relation, none
    for its absence."""
    a = arms(baseline=0.8, lr_x10=0.9, lr_x01=0.3)
    a["baseline"].held_out = held(2.3, 2.35, 2.3, 2.5)  # only 2.3 (2.5 - 0.2) fell further
    found, obs = judge(a, CONTEXT)
    assert found == []
    held_out = next(o for o in obs if o["name"] == "held-out-batch")
    assert not held_out["keeps"] and "lowered 1 of 9" in held_out["outcome"]


def _batches(*shuffled_after, real_after=2.37):
    """Several batches left out, one per value around which the shuffled pairings end."""
    batches = [_batch(2.3, real_after, 2.3, s) for s in shuffled_after]
    return {**batches[0], "batches": batches, "trained_on": 3, "control": POWERED}


def test_the_real_pairing_is_judged_over_several_batches():
    """One shuffle of 9 gained more on the first batch (alone: no claim), more on the others: the mean decides."""
    a = arms(baseline=0.8, lr_x10=0.9, lr_x01=0.3)
    a["baseline"].held_out = _batches(2.5, 2.35, 2.3)  # 1, 4 and 5 of 9 shuffles fell further than the real one
    found, obs = judge(a, CONTEXT)
    assert codes(found) == ["labels-decoupled"]
    assert "on 3 batches: 1, 4, 5" in next(o for o in obs if o["name"] == "held-out-batch")["outcome"]


def test_a_real_pairing_that_wins_on_most_batches_is_not_decoupled():
    a = arms(baseline=0.8, lr_x10=0.9, lr_x01=0.3)
    a["baseline"].held_out = _batches(2.55, 2.6, 2.35)  # 1, 0 and 4 of 9: mean 0.19, below a fifth
    assert judge(a, CONTEXT)[0] == []
    a["baseline"].held_out = _batches(2.6, 2.6, 2.6, real_after=2.3)  # the real pairing beats every shuffle
    found, obs = judge(a, CONTEXT)
    assert found == [] and "the targets do not follow the inputs" in next(
        o for o in obs if o["name"] == "held-out-batch")["kills"]


def test_a_model_blind_to_its_inputs_is_not_called_decoupled():
    """Every pairing gives the same loss: the model ignores its inputs (the ablation probe's finding)."""
    a = arms(baseline=0.8, lr_x10=0.9, lr_x01=0.3)
    b = {"real_before": 1.0, "real_after": 1.2, "shuffled_before": [1.0] * 9, "shuffled_after": [1.2] * 9}
    a["baseline"].held_out = {**b, "batches": [b], "trained_on": 3, "control": POWERED}
    assert judge(a, CONTEXT)[0] == []


def test_a_model_that_learned_only_the_mean_is_judged_when_the_control_shows_the_fit_resolves_pairings():
    """Every pairing within 1% of the real one (the model answers each with the targets' mean): silent without a
    control the fit learned, decoupled with one."""
    b = {"real_before": 1.0, "real_after": 0.5, "shuffled_before": [1.0] * 9,
         "shuffled_after": [0.5 + d / 100 for d in SPREAD]}
    a = arms(baseline=0.8, lr_x10=0.9, lr_x01=0.3)
    a["baseline"].held_out = {**b, "batches": [b], "trained_on": 3, "control": POWERLESS}
    assert judge(a, CONTEXT)[0] == []
    a["baseline"].held_out = {**b, "batches": [b], "trained_on": 3, "control": POWERED}
    assert codes(judge(a, CONTEXT)[0]) == ["labels-decoupled"]


def test_a_control_ranked_first_by_a_margin_far_below_the_loss_shows_no_power():
    """Raw targets of ~1e5 under MSE: the fit barely moves a loss of ~4e10, every pairing within 1e-5 of the real
    one. The control gains more than each of its shuffles, but by a margin no pairing could matter at: silent."""
    def tiny(real_gain, shuffled_gain):
        return {"real_before": 4e10, "real_after": 4e10 - real_gain, "shuffled_before": [4e10] * 9,
                "shuffled_after": [4e10 - shuffled_gain + d * 1e4 for d in SPREAD]}
    b = tiny(2.0e6, 2.1e6)
    a = arms(baseline=0.8, lr_x10=0.9, lr_x01=0.3)
    a["baseline"].held_out = {**b, "batches": [b] * 3, "trained_on": 3, "control": [tiny(2.2e6, 2.1e6)] * 3}
    found, obs = judge(a, CONTEXT)
    assert found == [] and not next(o for o in obs if o["name"] == "held-out-batch")["keeps"]


def test_a_control_the_copy_held_from_the_start_shows_power_by_standing_apart():
    """A residual denoiser's copy half-fits the control at its start: the fit gains less on it than on the
    shuffles it pulls towards the mean, yet it ends below every one of them on every batch."""
    a = arms(baseline=0.8, lr_x10=0.9, lr_x01=0.3)
    apart = [_batch(0.1, 0.07, 1.5, 1.1)] * 3
    a["baseline"].held_out = held(2.3, 2.6, 2.3, 2.5, control=apart)
    assert codes(judge(a, CONTEXT)[0]) == ["labels-decoupled"]


def _parted(component, control=POWERED):
    """The whole pairing beats every shuffle; one target component, moved alone, as given."""
    return {**held(2.3, 1.9, 2.3, 2.4), "components": {"target[:, 0]": {"batches": component, "control": control}}}


def test_a_component_that_does_not_follow_the_inputs_is_labels_decoupled():
    a = arms(baseline=0.8, lr_x10=0.9, lr_x01=0.3)
    a["baseline"].held_out = _parted([_batch(2.3, 2.6, 2.3, 2.5)] * 3)
    found, obs = judge(a, CONTEXT)
    assert codes(found) == ["labels-decoupled"]
    assert "target[:, 0] does not" in found[0].observation
    assert next(o for o in obs if o["name"] == "held-out-component")["keeps"]


@pytest.mark.parametrize("component, control", [
    ([_batch(2.3, 2.35, 2.3, 2.5)] * 3, POWERED),  # a hard component learned weakly: among the best few
    ([_batch(2.3, 2.6, 2.3, 2.5)] * 3, POWERLESS),  # typical, but the fit carries no control of it either
])
def test_a_component_is_not_called_decoupled_without_a_typical_pairing_and_power(component, control):
    a = arms(baseline=0.8, lr_x10=0.9, lr_x01=0.3)
    a["baseline"].held_out = _parted(component, control)
    assert judge(a, CONTEXT)[0] == []


def test_the_trained_models_pairing_screen_names_what_the_test_must_question():
    """On the model as training left it: the whole pairing beats every shuffle, component 0 does not."""
    screen = {"real": 1.0, "shuffled": [1.5, 1.6], "components": {(0, 0): [0.99, 1.01], (0, 1): [1.2, 1.3]}}
    assert unpaired(screen) == (False, [(0, 0)])
    assert unpaired({**screen, "shuffled": [1.0, 1.1], "components": {}}) == (True, [])
    assert unpaired(None) == (False, [])


def layout(built, flipped):
    """The baseline and other-layout arms, with the other batch's loss before and after each's steps."""
    a = arms(baseline=0.0, lr_x10=0.0, lr_x01=0.0)
    a["baseline"].transfer = built
    a["other-layout"] = Arm("other-layout", [1.0, 0.5], None, transfer=flipped)
    return a


def test_a_flipped_layout_that_fits_another_batch_better_is_batch_mixing():
    found, _ = judge(layout((1.0, 0.97), (1.0, 0.4)), {**CONTEXT, "layout": {"rnn": False}})
    assert codes(found) == ["batch-mixing"]


def test_a_model_that_already_fits_another_batch_below_the_flip_mixes_no_samples():
    # a model near its floor (a bidirectional forecaster reading the future) has little left to fall; the flip
    # falls further in share but stays 30x above it: the layout as built reads each sample apart
    found, obs = judge(layout((0.0113, 0.0107), (0.70, 0.33)), {**CONTEXT, "layout": {"rnn": True}})
    assert "batch-mixing" not in codes(found)
    assert next(o for o in obs if o["name"] == "other-layout")["kills"]
