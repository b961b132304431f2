"""The shapes of what the measuring code hands to the rules and the report: one step record for
`run` and the Monitor, its non-finite fields, a probe's record, and the report sections of run,
the Monitor and checkup.

These are TypedDicts: at run time they are the plain dicts written to report.json and
monitor.jsonl (render/report.schema.json and the readers in curves/ and monitor/logdir.py read
them), so a key renamed here is a format change. A Monitor record also carries the user's own
logged scalars under their own names (`mon.log(loss=..., acc=...)`), which no type can list.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict


class Location(TypedDict, total=False):
    """Where in the user's script (run only: the Monitor sees no call site)."""

    file: str
    line: int


class ColumnScales(TypedDict):
    """The largest columns of a tensor by scale, max(|mean|, std), largest first (judge/ decides which
    are unnormalized)."""

    columns: list[int]
    scale: list[float]
    mean: list[float]
    std: list[float]
    n_features: int


class InputScale(ColumnScales):
    """A floating tensor entering the model, or its first weighted layer, in one of the first training calls (run)."""

    tensor: str  # its name in the call: arg0, x, batch["image"]
    shape: list[int]
    feature_dim: int  # the dimension read as features: 1 for (N, C, H, W) images, else the last
    layer: NotRequired[str]  # the first weighted layer whose input this is, when measured there
    normalized_by: NotRequired[str]  # a normalization layer called on that layer's output straight after it


class LossObservation(TypedDict, total=False):
    """What one sampled loss call received (measure/losses.py:observe_call); judge/loss.py decides codes."""

    loss: str  # the loss function: cross_entropy, mse_loss...
    producer: str | None  # the autograd op that made its input (SoftmaxBackward0...), through reshapes
    scores: dict[str, Any]  # classification: {kind: logits | probabilities | log-probabilities | nonfinite, min, max, row_sum_mean, logsumexp_mean}
    ignored: dict[str, Any]  # integer targets: {ignore_index, ignored, targets}
    padding: list[dict[str, Any]]  # edge runs of the model's integer input sequences and the targets at them (losses.padding)
    residual: str  # a regression loss written by hand: "(prediction - target) ** 2" or "|prediction - target|"
    reduction: str  # "none": per-position losses reduced by hand with no mask
    range: dict[str, float] | None  # BCE with logits: the input's {min, max}
    bounds: dict[str, Any]  # logits (cross_entropy, nll_loss after log_softmax, BCE with logits) that the op making them bounds: {op, low, high, classes, binary}
    broadcast: dict[str, Any] | None  # input and target shapes that broadcast to a larger one
    target_scale: ColumnScales  # regression targets
    target_outside: dict[str, float]  # {low, high, share, min, max}: targets outside what the loss accepts or the prediction can reach
    class_weights: dict[str, list[float]]  # classification with a `weight`: {weights, counts} per class of the targets
    step: int
    location: Location


class LossSigns(TypedDict):
    """The torch loss functions one backward() adds up, each with the sign it enters with
    (measure/losses.py:loss_signs): -1 when descending the scalar raises that loss function's value."""

    step: int
    signs: list[tuple[str, int]]  # (autograd node of the loss function, +1 or -1)
    location: Location


class FirstLoss(TypedDict, total=False):
    """The first loss of a run whose chance level is known (measure/losses.py:chance_level)."""

    loss: str
    value: float
    step: int
    location: Location
    chance: float  # ln C, ln 2, or the target's variance
    basis: str  # how chance was reckoned: "ln(10) for 10 classes"
    zero_prediction: float  # mse: the loss of predicting 0


class NonfiniteFields(TypedDict, total=False):
    """Added to the record of a step whose loss or gradients are non-finite (and only to it); the
    non-finite rule (judge/nonfinite.py) explains the step from these alone."""

    nonfinite_inputs: dict[str, dict[str, Any] | None]  # tensor entering the model (or the loss target) -> where it is non-finite (stats.nonfinite_summary), None when not located
    inputs_checked: int  # tensors entering the model checked at that step (integer ones are finite by type)
    output_finite: bool  # whether the model's output was finite at that step, when it was seen
    nonfinite_grads: list[str]  # parameters whose gradient is non-finite (at most 20 names)
    n_nonfinite_grads: int  # how many there are, when more than were named (run)
    replay: dict[str, Any]  # the step's batch replayed on a copy (measure/replay.py): {module, type}, {module: None, output_finite}, or {skipped: why}; with `function`, the first torch call that turned finite arguments into NaN/Inf (run: through the loss head on tape too, and backward at a model's first step)
    seen_as: str  # run: how the step was found, when not at its own step (non-finite parameters after an unrecorded update)
    location: Location  # run: the user's line whose backward() received the non-finite loss
    nonfinite_rank: int  # under DDP: the rank these fields come from
    nonfinite_ranks: list[int]  # under DDP: the ranks whose loss was non-finite


class StepRecord(NonfiniteFields, total=False):
    """One optimizer step, as run (`run.steps_record`) and the Monitor (monitor.jsonl, the flight
    recorder) write it. Run writes every key of its own every time (None when not measured); the
    Monitor writes a key only when the step measured it."""

    step: int  # run: optimizer steps of every optimizer counted together; Monitor: the monitored optimizer's steps
    loss: float | None  # run: the last loss backpropagated before the step; Monitor: the `loss` logged for the step
    grad_norm: float  # L2 norm of every gradient, before the update (and after any clipping)
    grad_norm_by_module: dict[str, float]  # L2 gradient norm per owning module (`enc.0` for `enc.0.weight`; `<root>` for the model's own); Monitor: sampled steps only
    lr: list[float]  # per param group
    update_ratio: float | None  # ||delta theta|| / ||theta|| across step() itself (steps.UpdateSampler); run: on a subset of steps, Monitor: the step after a sampled one
    grad_norm_before_clip: float | None  # the total clip_grad_norm_ returned at its first call of the step
    optimizer: int  # run: which optimizer (in order of first step)
    optimizer_step: int  # run: that optimizer's own step count
    loss_terms: int  # run: the loss is a sum of this many terms (absent when one)
    loss_averaged: int  # run: the loss is a mean of this many terms (absent when one, or not a mean)
    target_scale: float | None  # run: the mean square (MSE) or mean |value| of a regression target a model made in the step (a bootstrap, a teacher's values)
    param_norm: float  # Monitor, sampled steps: L2 norm of every parameter
    param_norm_by_module: dict[str, float]  # Monitor, sampled steps: per owning module
    dead_fraction: dict[str, float]  # Monitor, sampled steps: per ReLU layer, share of units never positive
    saturated_fraction: dict[str, float]  # Monitor, sampled steps: per sigmoid/tanh layer, share near the range's ends
    steps_per_second: float  # Monitor: from the previous monitored step
    second_moment: bool | None  # Monitor, first record: whether the optimizer divides by a second moment (Adam family)


Status = Literal["ran", "skipped", "failed"]


class _Ran(TypedDict):
    name: str
    status: Status
    seconds: float  # information only: no probe decides anything by time


class ProbeRecord(_Ran, total=False):
    """One probe in the report (sections.checkup.probes, sections.run.probes), followed by the fields of
    the probe's own record (its TypedDict, next to the probe in diagnosis/probes/)."""
    note: str  # why it was skipped or failed, or what its numbers mean
    samples: str  # "subsampled 4096 of 200000 samples"


class CheckupSection(TypedDict):
    """The `checkup` section of a report (diagnosis/checkup.py)."""

    probes: list[ProbeRecord]
    seconds: float
    model: str  # the model's class
    batch_size: int
    batch_axis: dict[str, Any]  # {axis, size, why, subsampled?}: which dimension holds the samples (diagnosis/axis.py)
    experiments: dict[str, Any]  # the differential diagnosis: ran, why, observations (diagnosis/experiments.py)


class RunSection(TypedDict, total=False):
    """The `run` section of a report (run/runner.py)."""

    script: str
    args: list[str]
    stopped: str  # completed, max-steps, max-seconds, script-error, exited, os-exit, interrupted
    steps: int
    seconds: float
    backward_calls: int
    optimizers: list[dict[str, Any]]  # {class, steps, lr}
    schedulers: list[dict[str, Any]]  # {class, steps, first_at, last_at}
    models: list[dict[str, Any]]  # {class, training_calls, eval_calls}
    loss_functions: dict[str, int]  # calls per loss function
    probes: list[ProbeRecord]  # the cheap probes on the last training batch
    experiments: dict[str, Any]  # the differential diagnosis: ran, why, observations (diagnosis/experiments.py)
    internal_errors: list[str]
    processes_started: int
    threads_running: int
    steps_record: list[StepRecord]
    exit_status: int
    after_stop: str


class MonitorSection(TypedDict, total=False):
    """The `monitor` section of a report (Monitor.report(), and monitor/logdir.py when rebuilt)."""

    steps: int
    seconds: float
    disabled: str | None  # why the monitor disabled itself
    sink_errors: list[str]
    flight_recorder: list[StepRecord]  # the last records in full
    history: dict[str, list[dict[str, Any]]]  # {steps, modules}: the whole run, thinned (history.py)
    log_dir: str | None
    notes: list[str]
    rebuilt_from: str  # the monitor.jsonl a report was rebuilt from
