"""Every bundled broken example's first finding is its root cause (healthy ones get nothing, under the command
line: test_do_no_harm.py)."""
import pytest

from conftest import EXAMPLES, codes, run_example

BROKEN = {
    "broken_double_softmax.py": "double-softmax",
    "broken_no_zero_grad.py": "grad-not-zeroed",
    "broken_scheduler_per_batch.py": "scheduler-too-fast",
    "broken_nan_forward.py": "nonfinite-forward",  # localised to the log of negative values
    "broken_lr_too_high.py": "lr-too-high",
    "broken_eval_in_train_mode.py": "eval-in-train-mode",
    "broken_broadcast_loss.py": "broadcast-loss",
    "broken_labels_all_ignored.py": "labels-all-ignored",
    "broken_nan_input.py": "nonfinite-input",
    "broken_head_not_optimized.py": "params-not-in-optimizer",
    "broken_batch_mixing.py": "layout-scrambled",  # the view that scrambles, ahead of the batch-mixing it causes
    "broken_double_sigmoid.py": "double-sigmoid",
    "broken_nll_on_logits.py": "nll-without-log-softmax",
    "broken_zero_grad_misplaced.py": "zero-grad-misplaced",
    "broken_script_crash.py": "script-error",
    "broken_unnormalized_targets.py": "unnormalized-targets",
}
HEALTHY = ["healthy_mlp.py", "healthy_cnn.py", "healthy_causal_lm.py"]


def test_every_example_is_covered():
    on_disk = {p.name for p in EXAMPLES.glob("broken_*.py")} | {p.name for p in EXAMPLES.glob("healthy_*.py")}
    assert on_disk == set(BROKEN) | set(HEALTHY)


@pytest.mark.parametrize("name,root_cause", sorted(BROKEN.items()))
def test_broken_example_root_cause_first(name, root_cause):
    report = run_example(name)
    assert report.findings, f"{name}: nothing found"
    first = report.findings[0]
    assert first.code == root_cause, [(f.code, f.severity) for f in report.findings]
    assert first.explained_by is None
    if report.errors:
        assert report.errors[0].code == root_cause
    assert report.summary()["root_cause"] == root_cause


def test_symptoms_follow_their_cause():
    report = run_example("broken_lr_too_high.py")
    by_code = {f.code: f for f in report.findings}
    symptoms = [f for f in report.findings if f.code.startswith("nonfinite-")]
    assert symptoms and all(f.explained_by == "lr-too-high" for f in symptoms)
    ratio = max(by_code["lr-too-high"].evidence["update_ratios"])
    assert ratio > 0.1  # the measured update was a large fraction of the weights


def test_observations_carry_numbers_and_locations():
    f = run_example("broken_double_softmax.py").findings[0]
    assert f.evidence["row_sum_mean"] == pytest.approx(1.0, abs=1e-3)
    assert f.location["file"].endswith("broken_double_softmax.py") and f.location["line"] == 16
    nan = run_example("broken_nan_input.py").findings[0]
    assert nan.evidence["nonfinite_inputs"]["arg0"]["columns"] == [3]  # the Monitor's non-finite fields, one rule
    fwd = run_example("broken_nan_forward.py").findings[0]  # the module, and the call inside it with its line
    assert fwd.location["module"] == "1" and fwd.evidence["replay"]["type"] == "LogScale"
    assert fwd.evidence["function"]["name"] == "log"
    assert fwd.location["file"].endswith("broken_nan_forward.py") and fwd.location["line"] == 10


def test_step_records_in_report():
    run = run_example("healthy_mlp.py").sections["run"]
    rec = run["steps_record"]
    steps = [r["step"] for r in rec]  # every step of the first 20, then every 4th
    assert steps == list(range(20)) + list(range(20, run["steps"], 4))
    first = rec[0]
    assert first["loss"] > 0 and first["grad_norm"] > 0 and first["lr"] == [1e-3]
    assert set(first["grad_norm_by_module"]) == {"0", "3"}  # top-level Linear layers
    assert first["update_ratio"] is not None and 1e-5 < first["update_ratio"] < 1e-1
