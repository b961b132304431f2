import json

import jsonschema
import pytest

from traindoctor.vocabulary.report import Report
from traindoctor.vocabulary.finding import finding
from traindoctor.vocabulary.triage import triage
from traindoctor.render import render
from traindoctor.render.json_report import schema


def f(code, **kw):
    return finding(code, f"observed {code}", "run", **kw)


def test_triage_orders_by_severity_then_stage():
    ordered = triage([f("lr-too-low"), f("frozen-params"), f("nonfinite-forward"), f("script-error")])
    assert [x.code for x in ordered] == ["script-error", "nonfinite-forward", "lr-too-low", "frozen-params"]


def test_cause_moves_ahead_of_the_symptom_it_explains():
    ordered = triage([f("nonfinite-forward"), f("exploding-gradients"), f("grad-not-zeroed")])
    assert ordered[0].code == "grad-not-zeroed"
    assert {x.code: x.explained_by for x in ordered[1:]} == {"nonfinite-forward": "grad-not-zeroed",
                                                             "exploding-gradients": "grad-not-zeroed"}


def test_warning_cause_inherits_symptom_severity_for_ordering():
    ordered = triage([f("loss-divergence"), f("lr-too-low"), f("unnormalized-inputs")])
    assert [x.code for x in ordered] == ["unnormalized-inputs", "loss-divergence", "lr-too-low"]
    assert Report("run x", ordered).summary()["root_cause"] == "unnormalized-inputs"


def test_a_cause_reads_ahead_of_a_chain_of_symptoms():
    """Too high a rate killed units and the dead layer made the output ignore the inputs: the rate, a warning
    on its own, inherits the error two links down and reads first."""
    ordered = triage([f("input-ignored", severity="error"), f("dead-relu"), f("lr-too-high", severity="warning")])
    assert [x.code for x in ordered] == ["lr-too-high", "dead-relu", "input-ignored"]
    assert [x.explained_by for x in ordered] == [None, "lr-too-high", "dead-relu"]


def test_a_link_of_a_chain_reads_before_the_symptom_it_explains_in_turn():
    """A view that scrambles the targets misaligns them, and misaligned targets are a pairing the model cannot
    learn: all three in the order of the chain, both followers attributed to the root."""
    ordered = triage([f("labels-decoupled", severity="error"), f("targets-misaligned", severity="error"),
                      f("layout-scrambled", severity="error")])
    assert [x.code for x in ordered] == ["layout-scrambled", "targets-misaligned", "labels-decoupled"]
    assert [x.explained_by for x in ordered] == [None, "layout-scrambled", "layout-scrambled"]


def test_a_measured_explanation_overrides_the_catalogs():
    """The catalog has a rate too high explain a non-finite forward; a non-finite finding that measured the
    opposite (the steps grew with exp's slope) reads first and the rate follows from it, with no cycle."""
    plain = triage([f("nonfinite-forward"), f("lr-too-high")])
    assert [x.code for x in plain] == ["lr-too-high", "nonfinite-forward"]
    measured = triage([f("nonfinite-forward", evidence={"explains": ["lr-too-high"]}), f("lr-too-high"),
                       f("loss-divergence")])
    assert [x.code for x in measured] == ["nonfinite-forward", "lr-too-high", "loss-divergence"]
    assert [x.explained_by for x in measured] == [None, "nonfinite-forward", "lr-too-high"]


def test_duplicate_codes_merge_keeping_the_stronger():
    a = f("eval-in-train-mode", severity="warning")
    b = finding("eval-in-train-mode", "seen statically", "lint")
    merged = triage([a, b])
    assert len(merged) == 1 and merged[0].severity == "error"
    assert merged[0].evidence["also_seen"][0]["source"] == "run"


def test_unknown_code_is_rejected():
    with pytest.raises(KeyError, match="unknown finding code"):
        f("not-a-code")


def test_exit_codes():
    assert Report("run x", []).exit_code == 0
    assert Report("run x", [f("lr-too-low")]).exit_code == 0
    assert Report("run x", [f("double-softmax")]).exit_code == 1


@pytest.mark.parametrize("fmt", ["text", "markdown", "json"])
def test_renderers_handle_empty_and_nonfinite(fmt):
    report = Report("run x", triage([f("nonfinite-forward", evidence={"loss": float("nan"), "g": float("inf")}),
                                     f("frozen-params")]))
    out = render(report, fmt)
    assert "nonfinite-forward" in out
    if fmt == "json":
        data = json.loads(out)
        jsonschema.validate(data, schema())
        assert data["findings"][0]["evidence"]["loss"] == "nan"
    assert render(Report("run x", []), fmt)


def test_text_is_plain_without_color():
    out = render(Report("run x", [f("double-softmax")]), "text", color=False)
    assert "\x1b[" not in out and "✗ error" in out and "most likely root cause: double-softmax" in out
    colored = render(Report("run x", [f("double-softmax")]), "text", color=True)
    assert "\x1b[" in colored


def test_a_report_that_could_not_look_exits_2_and_says_so_in_every_format():
    blind = Report("monitor", [f("lr-too-low")], unchecked=["the monitor disabled itself: ValueError: boom"])
    assert blind.exit_code == 2
    assert Report("monitor", [f("double-softmax")], unchecked=["x"]).exit_code == 1  # an error found is still an error
    for fmt in ("text", "markdown", "html"):
        out = render(blind, fmt)
        assert "COULD NOT CHECK" in out and "no problem found" not in out and "disabled itself" in out, fmt
    data = json.loads(render(blind, "json"))
    jsonschema.validate(data, schema())
    assert data["summary"]["could_not_check"] == ["the monitor disabled itself: ValueError: boom"]
    sarif = json.loads(render(blind, "sarif"))
    assert sarif["runs"][0]["invocations"][0]["executionSuccessful"] is False
    empty = Report("monitor", [], unchecked=["nothing observed"])
    assert "no problem found" not in render(empty, "text") and empty.exit_code == 2


def test_unknown_source_is_rejected():
    with pytest.raises(ValueError, match="unknown finding source 'runn'.*lint, run, checkup"):
        finding("lr-too-low", "observed", "runn")


@pytest.mark.parametrize("source", ["lint", "run", "checkup", "monitor", "curves", "data", "sweeps", "surface"])
def test_known_sources_are_accepted(source):
    assert finding("lr-too-low", "observed", source).source == source


def test_a_findings_hypotheses_are_its_own():
    mine = f("lr-too-low")
    mine.hypotheses[0].cause = "edited"
    assert f("lr-too-low").hypotheses[0].cause != "edited"


def test_layers_no_optimizer_updates_explain_labels_that_look_decoupled():
    """The experiments train copies with the script's optimizer: a model whose layers it does not hold cannot
    carry what it learns from one batch to another, so the permutation test's 'decoupled' is that handicap."""
    ordered = triage([finding("labels-decoupled", "real pairing typical", "run", severity="error"),
                      finding("params-not-in-optimizer", "2 layers in a plain list", "run", severity="error")])
    assert [f.code for f in ordered] == ["params-not-in-optimizer", "labels-decoupled"]
    assert ordered[1].explained_by == "params-not-in-optimizer"


def test_a_scrambled_layout_reads_ahead_of_what_it_does_to_training():
    ordered = triage([finding("loss-plateau", "flat", "run", severity="error"), f("overfitting"),
                      finding("cannot-overfit-batch", "stalls", "checkup", severity="error"),
                      finding("layout-scrambled", "a numpy reshape", "run", severity="error")])
    assert ordered[0].code == "layout-scrambled"
    assert {x.explained_by for x in ordered[1:]} == {"layout-scrambled"}


def test_a_cut_graph_explains_labels_that_look_decoupled():
    """The permutation test fits copies that share the cut: only the layers past it learn, so an encoder that
    gets no gradient makes the real pairing transfer no better than a shuffled one."""
    ordered = triage([finding("labels-decoupled", "real pairing typical", "run", severity="error"),
                      finding("graph-break", "the LSTM's state is detached", "run", severity="error"),
                      finding("optimizer-params-unused", "5 tensors", "run", severity="warning")])
    assert [f.code for f in ordered] == ["graph-break", "labels-decoupled", "optimizer-params-unused"]
    assert [f.explained_by for f in ordered] == [None, "graph-break", "graph-break"]


def test_of_two_independent_causes_the_one_whose_consequences_were_found_reads_first():
    """A cut and a batch statistic, neither a consequence of the other: the cut accounts for parameters that never
    got a gradient and for the decoupled verdict; the mixing, then, for nothing the cut does not. With a plateau
    only the mixing explains, the order turns round."""
    def found(*symptoms):
        return triage([finding("batch-mixing", "a batch standardisation", "checkup", severity="error"),
                       finding("graph-break", "a numpy round trip", "run", severity="error"),
                       *(finding(code, "observed", "run", severity=sev) for code, sev in symptoms)])

    unused = ("optimizer-params-unused", "warning")
    assert [f.code for f in found(unused)] == ["graph-break", "batch-mixing", "optimizer-params-unused"]
    both = found(("labels-decoupled", "error"), unused)
    assert [f.code for f in both][:2] == ["graph-break", "batch-mixing"]
    assert {f.code: f.explained_by for f in both}["labels-decoupled"] == "graph-break"
    assert [f.code for f in found(("loss-plateau", "error"))] == ["batch-mixing", "graph-break", "loss-plateau"]
