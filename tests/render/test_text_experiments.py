"""The text report lists the differential diagnosis's arms, one line each, when they ran — and nothing
when they did not."""
from traindoctor.render import render
from traindoctor.vocabulary.report import Report

OBSERVATIONS = [
    {"name": "baseline", "outcome": "the batch's loss went down 2%", "keeps": ["the learning rate is too low"], "kills": []},
    {"name": "lr-x10", "outcome": "the batch's loss went down 80% (baseline: down 2%)", "keeps": [], "kills": []},
]


def _text(experiments):
    run = {"script": "train.py", "args": [], "stopped": "completed", "steps": 100, "seconds": 1.0, "experiments": experiments}
    report = Report(command="run train.py", findings=[], sections={"run": run})
    return render(report, "text", color=False, width=100)


def test_arms_that_ran_are_listed():
    text = _text({"ran": True, "why": "the loss does not fall", "observations": OBSERVATIONS})
    assert "experiments on copies (the loss does not fall):" in text
    assert "lr-x10" in text and "down 80%" in text
    assert "keeps: the learning rate is too low" in text


def test_nothing_when_they_did_not_run():
    assert "experiments on copies" not in _text({"ran": False, "why": "the loss learns"})
