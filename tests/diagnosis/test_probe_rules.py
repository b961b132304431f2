"""The rules over the probes' measurements (judge/probes.py), at their thresholds: numbers in, codes out."""
import torch

from traindoctor.judge import probes as rules
from traindoctor.judge.thresholds import (CLASS_MIN_LABELS, DEAD_MIN_SAMPLES, DEAD_RELU_INIT, DEAD_RELU_TRAINED,
                                          INPUT_IGNORED, LARGE_UPDATE, OUTPUT_CHANGE, PROBE_SMALL_UPDATE)


def code(found):
    return found.code if found else None


def test_dead_relu_at_initialization_and_after_training():
    layers = {"act": {"kind": "relu", "dead_fraction": 0.7}}
    assert code(rules.dead_relu(layers, DEAD_MIN_SAMPLES, DEAD_RELU_INIT)) == "dead-relu"
    assert rules.dead_relu(layers, DEAD_MIN_SAMPLES, DEAD_RELU_TRAINED) is None
    assert rules.dead_relu(layers, DEAD_MIN_SAMPLES - 1, DEAD_RELU_INIT) is None  # too few samples to say
    assert rules.dead_relu({"act": {"kind": "sigmoid", "saturated_fraction": 1.0}}, 64, DEAD_RELU_INIT) is None


def test_saturation():
    assert code(rules.saturated_activations({"s": {"kind": "tanh", "saturated_fraction": 0.5}})) == "saturated-activations"
    assert rules.saturated_activations({"s": {"kind": "tanh", "saturated_fraction": 0.49}}) is None


def test_class_imbalance_needs_enough_labels_and_two_classes():
    labels = {"classes_present": 2}
    assert code(rules.class_imbalance([18, 2], labels)) == "class-imbalance"
    assert rules.class_imbalance([17, 3], labels) is None
    assert rules.class_imbalance([CLASS_MIN_LABELS - 2, 1], labels) is None
    assert rules.class_imbalance([0, 40], labels) is None  # one class only: nothing to compare


def test_unnormalized_inputs():
    found = rules.unnormalized_inputs("x", torch.tensor([0.0, 150.0, 0.1]), torch.tensor([1.0, 1.0, 101.0]))
    assert code(found) == "unnormalized-inputs" and found.evidence["columns"] == [1, 2]
    assert rules.unnormalized_inputs("x", torch.tensor([0.0, 100.0]), torch.tensor([1.0, 1.0])) is None


def test_output_changes():
    record = {}
    assert code(rules.batch_mixing(torch.tensor([0.0, 2 * OUTPUT_CHANGE]), "x", 3, 0, "M", record)) == "batch-mixing"
    assert rules.batch_mixing(torch.tensor([0.0, OUTPUT_CHANGE]), "x", 3, 0, "M", record) is None
    causal = {"input": "x", "time_dim": 1, "steps": 1, "changed_from": 5, "outputs_up_to": 4, "task": "t"}
    assert code(rules.causal_leak(2 * OUTPUT_CHANGE, True, causal)) == "causal-leak"
    assert rules.causal_leak(2 * OUTPUT_CHANGE, False, causal) is None  # bidirectional by design
    assert rules.causal_leak(OUTPUT_CHANGE, True, causal) is None
    # A model that made NaN measured no change at all: not a finding, whichever way NaN compares.
    assert rules.causal_leak(float("nan"), True, causal) is None
    assert rules.target_copy(float("nan"), 1.0, "x", {"floating": True}) is None
    assert code(rules.target_copy(2 * OUTPUT_CHANGE, 1.0, "x", {"floating": True})) == "label-leakage"
    assert rules.batch_mixing(torch.tensor([0.0, float("nan")]), "x", 3, 0, "M", record) is None
    assert code(rules.constant_output(8, 1e-9, 1.0, record)) == "constant-output"
    assert rules.constant_output(8, 1e-3, 1.0, record) is None


def test_update_size():
    assert code(rules.update_size(2 * LARGE_UPDATE, "SGD (lr 50)", 5, {})) == "lr-too-high"
    assert code(rules.update_size(PROBE_SMALL_UPDATE / 2, "SGD (lr 1e-9)", 5, {})) == "lr-too-low"
    assert rules.update_size(1e-3, "AdamW (lr 0.001)", 5, {}) is None


def test_gradient_ratio_and_disconnected_parameters():
    first, last = ("a.weight", 1e-6), ("b.weight", 1.0)
    assert code(rules.gradient_ratio(1e-6, first, last, {})) == "vanishing-gradients"
    assert code(rules.gradient_ratio(1e6, first, last, {})) == "exploding-gradients"
    assert rules.gradient_ratio(1.0, first, last, {}) is None
    assert rules.disconnected_parameters(["a.weight"], 2, {}).severity == "warning"
    assert rules.disconnected_parameters(["a.weight", "a.bias"], 2, {}).severity == "error"
    assert rules.disconnected_parameters([], 2, {}) is None


def test_overfitting_one_batch():
    assert rules.overfit_passed([2.0, 0.4]) and rules.overfit_passed([0.06, 0.04])
    assert not rules.overfit_passed([2.0, 0.5]) and not rules.overfit_passed([2.0, float("nan")])
    assert rules.stalled_at([2.0] * 30) == 0
    assert rules.stalled_at([2.0 - 0.05 * i for i in range(30)]) is None
    found = rules.cannot_overfit("AdamW", [1e-3, 1e-2], 300, [2.0, 1.9], 0, {"fc": 0.1}, {})
    assert found.code == "cannot-overfit-batch" and "lr 0.001 and lr 0.01" in found.observation


def test_input_ignored():
    # fitting took the loss from 2.0 to 0.1; destroying the inputs undoes less than INPUT_IGNORED of that
    undone = INPUT_IGNORED * 1.9 / 2
    assert code(rules.input_ignored(2.0, 0.1, 0.1 + undone, 0.1, {})) == "input-ignored"
    assert rules.input_ignored(2.0, 0.1, 1.5, 0.1, {}) is None
    assert rules.input_ignored(2.0, 2.5, 2.5, 2.5, {}) is None  # nothing learned


def test_lr_beyond_divergence():
    assert code(rules.lr_beyond_divergence(1.0, 0.5, 1e-3, {})) == "lr-too-high"
    assert rules.lr_beyond_divergence(0.1, 0.5, 1e-3, {}) is None
    assert rules.lr_beyond_divergence(1.0, None, 1e-3, {}) is None  # never diverged
    assert rules.lr_beyond_divergence(None, 0.5, 1e-3, {}) is None  # no optimizer instance: no configured lr
