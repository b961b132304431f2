"""targets-displaced on measured alignments (measure/dense.py): a share of samples fitted better moved is a
displacement; one transform fitting every sample is the task while the loss learns, and a shift never is."""

from traindoctor.judge.dense import judge
from traindoctor.measure.dense import IDENTITY, Alignment, Sample


def alignment(*samples, elsewhere=None):
    made = [Sample({IDENTITY: given, move: moved}) for given, move, moved in samples]
    return Alignment((16, 16), "x", made, elsewhere or [Sample({IDENTITY: 0.95, "reversed": 0.9})] * len(made))


IN_PLACE = [(0.05, "shifted by (2, 0)", 0.4)] * 20
FLIPPED = [(0.8, "flipped left-right", 0.03)] * 20


STUCK = "the loss stays near chance level"


def codes(found):
    return [f.code for f in found]


def test_half_the_samples_flipped_is_a_displacement_even_while_the_loss_learns():
    assert codes(judge(alignment(*IN_PLACE[:10], *FLIPPED[:10]), None, "Net", "run")) == ["targets-displaced"]


def test_every_sample_in_place_is_not():
    assert judge(alignment(*IN_PLACE), STUCK, "Net", "run") == []


def test_every_sample_flipped_is_the_task_while_the_loss_learns():
    assert judge(alignment(*FLIPPED), None, "Net", "run") == []
    assert codes(judge(alignment(*FLIPPED), STUCK, "Net", "run")) == ["targets-displaced"]


def test_every_sample_shifted_alike_is_never_judged():
    shifted = [(0.7, "shifted by (3, 0)", 0.05)] * 20
    assert judge(alignment(*shifted), STUCK, "Net", "run") == []


def test_samples_the_input_does_not_explain_say_nothing():
    unexplained = [(0.97, "flipped left-right", 0.9)] * 20
    assert judge(alignment(*unexplained, *IN_PLACE[:3], *FLIPPED[:2]), None, "Net", "run") == []
    found = judge(alignment(*unexplained, *IN_PLACE[:3], *FLIPPED[:3]), None, "Net", "run")
    assert codes(found) == ["targets-displaced"]


def test_fits_no_better_than_by_another_samples_target_are_chance():
    by_chance = [(0.9, "shifted by (3, 2)", 0.3)] * 10
    elsewhere = [Sample({IDENTITY: 0.95, "shifted by (2, 3)": 0.25})] * 20
    assert judge(alignment(*IN_PLACE[:10], *by_chance, elsewhere=elsewhere), None, "Net", "run") == []
    assert codes(judge(alignment(*IN_PLACE[:10], *FLIPPED[:10], elsewhere=elsewhere), None, "Net", "run")) == [
        "targets-displaced"]


def test_as_many_moves_as_unrelated_targets_would_make_are_chance():
    # of 64 targets unrelated to their inputs, about 3 fit as well as the chance quantile, all of them moved
    unexplained, moved = (0.97, "reversed", 0.9), (0.9, "flipped left-right", 0.05)
    assert judge(alignment(*[unexplained] * 58, *[moved] * 6), STUCK, "Net", "run") == []
    assert codes(judge(alignment(*[unexplained] * 57, *[moved] * 7), STUCK, "Net", "run")) == ["targets-displaced"]
