"""Rules over what the probes measured on copies of the model (diagnosis/probes/): each takes the
numbers one probe measured and decides whether they make a finding. Here rather than beside the probes
so that every rule and its threshold sit in the judge, beside their siblings over step series (the
Monitor's dead-ReLU rule, run's unnormalized inputs); the numbers are in thresholds.py."""

from __future__ import annotations

import math
from typing import Any, Sequence

import torch

from ..measure.views import LOCAL_LAG, moved_axes
from ..vocabulary import catalog
from ..vocabulary.numbers import fmt
from ..vocabulary.finding import Finding, finding
from ..vocabulary.hypothesis import Hypothesis
from .thresholds import (AFFINE_TOLERANCE, BOTTLENECK_SHARE, CLASS_MAJORITY, CLASS_MIN_LABELS, CONSTANT_OUTPUT_SPREAD, DEAD_MIN_SAMPLES, EXPLODING_FIRST_LAST,
                         INPUT_IGNORED, LARGE_UPDATE, LAYOUT_IMAGE, LAYOUT_LOCAL, LAYOUT_SMOOTHER, MASK_AGREEMENT, OUTPUT_CHANGE, OVERFIT_FLOOR, OVERFIT_STALL,
                         OVERFIT_TARGET, PROBE_SMALL_UPDATE, SATURATED, SYMMETRIC_SPREAD, UNNORMALIZED_SCALE, VANISHING_FIRST_LAST)

SOURCE = "checkup"
SOURCE_RUN = "run"  # the checks on run's loss head on tape (diagnosis/loss_independence.py)


# ── the batch ─────────────────────────────────────────────────────────────────

def nonfinite_input(tensor: str, summary: dict[str, Any] | None) -> Finding | None:
    """Any NaN or Inf in an input (`summary`: measure.stats.nonfinite_summary)."""
    if not summary:
        return None
    where = f"feature columns {summary['columns']}" if "columns" in summary else f"positions {summary['positions']}"
    return finding("nonfinite-input", f"input `{tensor}` (shape {summary['shape']}) holds {summary['nonfinite']} "
                   f"non-finite values ({summary['nan']} NaN) in {where}", SOURCE, evidence=summary,
                   location={"tensor": tensor})


def unnormalized_inputs(tensor: str, mean: torch.Tensor, std: torch.Tensor) -> Finding | None:
    """Features whose |mean| or std exceeds UNNORMALIZED_SCALE."""
    scale = torch.maximum(mean.abs(), std)
    cols = (scale > UNNORMALIZED_SCALE).nonzero().flatten().tolist()
    if not cols:
        return None
    return finding("unnormalized-inputs", f"input `{tensor}`: {len(cols)} of {scale.numel()} features have scale above "
                   f"{UNNORMALIZED_SCALE:g}, " + ", ".join(f"{c} (mean {fmt(float(mean[c]))}, std {fmt(float(std[c]))})"
                                                            for c in cols[:4]),
                   SOURCE, evidence={"tensor": tensor, "columns": cols[:20]}, location={"tensor": tensor})


def class_imbalance(counts: Sequence[int], labels: dict[str, Any]) -> Finding | None:
    """One class holding CLASS_MAJORITY of at least CLASS_MIN_LABELS labels, with two classes present."""
    n = sum(counts)
    if n < CLASS_MIN_LABELS or sum(1 for c in counts if c) < 2:
        return None
    top = max(counts) / n
    if top < CLASS_MAJORITY:
        return None
    return finding("class-imbalance", f"class {counts.index(max(counts))} holds {top:.0%} of the {n} labels in the batch",
                   SOURCE, evidence=labels)


# ── outputs ───────────────────────────────────────────────────────────────────

def constant_output(samples: int, spread: float, scale: float, record: dict[str, Any]) -> Finding | None:
    if spread > CONSTANT_OUTPUT_SPREAD * scale:
        return None
    return finding("constant-output", f"all {samples} samples of the batch get the same output (largest difference "
                   f"{spread:.2g}, output scale {scale:.2g}), model in eval mode", SOURCE, evidence=record)


def batch_mixing(others: torch.Tensor, tensor: str, size: int, axis: int | None, model: str,
                 record: dict[str, Any]) -> Finding | None:
    """`others`: the relative change of the other samples' outputs when sample 0 of `size` was perturbed."""
    affected = int((others > OUTPUT_CHANGE).sum())
    if not affected:
        return None
    return finding("batch-mixing", f"perturbing sample 0 of input `{tensor}` (batch of {size} along dim {axis}, model copy "
                   f"in eval mode) changed the outputs of {affected} of the other {size - 1} "
                   f"samples (max relative change {float(others.max()):.2g})", SOURCE, evidence=record,
                   location={"module": model})


def loss_mixing(others: torch.Tensor, size: int, record: dict[str, Any]) -> Finding | None:
    """`others`: the relative change of the other samples' loss gradients when sample 0's output moved."""
    affected = int((others > OUTPUT_CHANGE).sum())
    if not affected:
        return None
    return finding("batch-mixing", f"in the loss computed from the model's outputs: moving sample 0's output (batch of "
                   f"{size}) changed the loss gradient of {affected} of the other {size - 1} samples (max relative change "
                   f"{float(others.max()):.2g}) — an operation in the training loop mixes the samples (a softmax or a "
                   "normalisation over the batch axis)", SOURCE_RUN, evidence=record, location={"module": "the loss"},
                   hypotheses=_loss_mixing_hypotheses())


def _loss_mixing_hypotheses() -> list[Hypothesis]:
    """The loss gets the model's outputs as they are: a view swapping the model's dims is not what mixes them
    here (a fresh list: a finding's hypotheses are its own to edit)."""
    return [
        Hypothesis("a softmax, log_softmax or normalisation over the batch axis in the loss",
                   "check the dim of every reduction between the outputs and the loss (dim=0 on batch-first outputs)"),
        Hypothesis("a statistic of the whole batch taken with gradient (a mean or std subtracted from the outputs)",
                   "compute such statistics under torch.no_grad(), or over each sample's own dims", kind="subtle"),
    ]


def symmetric_units(measured: dict[str, tuple[int, float | None, float | None]], trained: bool,
                    source: str = SOURCE, still: Sequence[str] = ()) -> tuple[Finding | None, dict[str, Any]]:
    """`measured`: layer -> (units, spread, even), for the layers whose units started with identical weights;
    spread is the share of their change (training's, or the batch's gradient) that differs between them, even
    the same share of the starting gradient with the units' biases made equal (None: unknown). The units of a
    layer with either at most SYMMETRIC_SPREAD are copies — moved alike, or told apart by their biases alone;
    the finding (if any) and the probe's record. `still`: the layers training never moved."""
    spread = {n: round(s, 3) for n, (_, s, _) in measured.items() if s is not None}
    even = {n: round(e, 3) for n, (_, _, e) in measured.items() if e is not None}
    layers = {n: u for n, (u, s, e) in measured.items()
              if min(v for v in (s, e, math.inf) if v is not None) <= SYMMETRIC_SPREAD}
    record: dict[str, Any] = {"layers": layers, "spread": spread, "even": even}
    if never := [n for n in still if n in layers]:
        record["still"] = never
    if not layers:
        return None, {**record, "note": "units that started identical were moved apart"}
    name, units = next(iter(layers.items()))
    apart = spread.get(name)
    share = "" if apart is None else f"{apart:.0%}" if apart >= 0.01 else "under 1%"
    role = (f"their gradient at the start is {'identical' if even.get(name) == 0 else 'alike'} whatever the "
            "output's: the same outgoing role")
    if apart is None:
        how = role
    elif apart > SYMMETRIC_SPREAD:
        how = (f"nothing but their biases tells them apart: with the biases made equal, {role} (training moved them "
               f"{share} apart, by what the biases make differ)")
    elif trained:
        how = ("training never moved them: no gradient reached them" if name in still else
               "are identical after training" if apart == 0 else
               f"training moved them alike (only {share} of the change differs between units)")
    else:
        how = ("the batch's gradient is identical for each" if apart == 0 else
               f"the batch's gradient moves them alike (only {share} of it differs between units)")
    return finding("symmetric-units", f"all {units} units of `{name}` started with identical weights and {how}"
                   + (f" ({len(layers) - 1} more layer(s) alike)" if len(layers) > 1 else "")
                   + (": the layer starts as a single unit, and only the biases' differences widen it"
                      if apart is not None and apart > SYMMETRIC_SPREAD else ": the layer works as a single unit"),
                   source, evidence=record,
                   location={"module": name.split(" ")[0].rsplit(".", 1)[0]}), record


def no_nonlinearity(layer: str, depth: int, deviation: float, bends: Sequence[str], model: str,
                    record: dict[str, Any]) -> tuple[Finding | None, dict[str, Any]]:
    """`deviation`: |f((a+b)/2) - (f(a)+f(b))/2| of `layer`'s output, relative to |f(a) - f(b)|; `bends`: the ops
    on the autograd graph between the weight layers not known to be linear. Both must agree: a nonlinearity
    present but idle on this batch (every unit on one side of its kink, a tanh near zero) is not absent. The
    finding (if any) and the probe's record."""
    if depth < 2 or deviation > AFFINE_TOLERANCE:
        return None, record
    if bends:
        return None, {**record, "note": f"affine on this batch: the nonlinearities ({', '.join(bends)}) are idle"}
    return finding("no-nonlinearity", f"`{layer}`, the last of {depth} weight layers in series in `{model}`, is an affine "
                   f"function of the inputs (at the midpoint of two samples' inputs its output is the midpoint of theirs "
                   f"to {deviation:.1g} of their difference), and every op between the layers is linear: no nonlinearity "
                   "sits between them, and the stack computes one linear map", SOURCE, evidence=record,
                   location={"module": layer}), record


def capacity_bottleneck(layer: str, width: int, values: int, dims: int, share: float,
                        record: dict[str, Any]) -> Finding | None:
    """`share`: the targets' variance outside their top `width` principal directions; `dims`: the directions
    that hold 95% of it."""
    if not share > BOTTLENECK_SHARE:  # a NaN measured nothing
        return None
    return finding("capacity-bottleneck", f"every sample's output passes through the {width} unit(s) of `{layer}` (with "
                   f"its output held at the batch mean, all outputs are the same), but the targets vary in {dims} "
                   f"directions (95% of their variance, {values} values per sample): {fmt(share * 100)}% of their "
                   f"variance lies outside any {width}, which a read-out of `{layer}` cannot reach",
                   SOURCE, evidence=record, location={"module": layer})


def follow_consequence(found: list[Finding], stuck: str | None, learned: str | None = None) -> list[Finding]:
    """Severity follows consequence: what limits the model's expressive power, or the gradient through it from
    the start, is an error once the loss does not learn (`stuck`: why — run's recorded loss, as
    judge/numerics.why_not_learning says, or checkup's batch the model could not fit), a warning (or
    information) while it does. A linear stack is only information once the loss learned (`learned`: how,
    judge/numerics.how_learned): the probe reads the model alone, and a task a linear map fits (a low-rank
    factorisation, a linear autoencoder) is no defect; capacity-bottleneck weighs the targets it cannot reach itself."""
    for f in found:
        if f.code == "no-nonlinearity" and learned and not stuck:
            f.severity, f.observation = "info", f"{f.observation}; {learned}: a linear map fits this task"
        # Saturation measured on the trained model may be what the failure did (weights blown up by too high a
        # rate): only gates read at the weights training started from can be its cause.
        forecast = f.code == "saturated-activations" and f.evidence.get("forecast")
        if (f.code in ("no-nonlinearity", "capacity-bottleneck", "symmetric-units") or forecast) and stuck:
            f.severity, f.observation = "error", f"{f.observation}; {stuck}"
    return found


def forecast_confirmed(found: list[Finding]) -> list[Finding]:
    """A saturation measured at the weights training started from is information while nothing else shows its
    consequence; when a warning or error it explains is present (a first loss far from chance from pinned units
    feeding the head, gradients that vanish through them, a rate too low for their flat slope), that finding is
    the consequence the forecast predicted: it becomes a warning, read as the cause (triage)."""
    for f in found:
        if f.code != "saturated-activations" or not f.evidence.get("forecast") or f.severity != "info":
            continue
        seen = sorted({g.code for g in found if g.severity in ("warning", "error")
                       and g.code in catalog.get(f.code).explains})
        if seen:
            f.severity = "warning"
            f.observation = f"{f.observation}; it explains {', '.join(seen)}"
    return found


def layout_scrambled(scrambles: list[dict[str, Any]], where: str, record: dict[str, Any],
                     source: str = SOURCE) -> Finding:
    """`scrambles`: view/reshape calls whose output holds the input's dimensions in another order, made `where`
    (the model's forward, read by a probe; or the script outside the models, watched by run)."""
    first = scrambles[0]
    more = f" ({len(scrambles) - 1} more call(s) alike)" if len(scrambles) > 1 else ""
    before, after = tuple(first["from"]), tuple(first["to"])
    if sorted(s for s in before if s > 1) == sorted(s for s in after if s > 1):
        how = "the same dimensions in another order"
    else:
        size, was, now = moved_axes(before, after)[0]
        how = (f"its axis of size {size}, whose elements lay {was} apart in memory, became one whose elements lie "
               f"{now} apart, across other axes")
    return finding("layout-scrambled", f"{where}, {first['call']}() turned shape {before} into {after}: {how}{more}. "
                   "A view re-reads memory in its order, so the elements are scrambled, not transposed", source, evidence=record,
                   location={k: first[k] for k in ("file", "line") if k in first} or {"module": where})


def pixels_scrambled(pixels: dict[str, Any], model: str, record: dict[str, Any]) -> Finding | None:
    """`pixels`: roughness (0 smooth, about 1 noise) of the images the model's first 2-D convolution reads,
    "given" and read as the "channels_last" memory a view would have taken them from, and the local roughness
    (down, across) of the latter."""
    given, other, local = pixels["given"], pixels["channels_last"], pixels["channels_last_local"]
    if given is None or other is None or other > LAYOUT_IMAGE or other * LAYOUT_SMOOTHER > given:
        return None
    if local is None or max(local) > LAYOUT_LOCAL:  # smooth only by offsets between bands: no image either way
        return None
    b, c, h, w = pixels["shape"]
    return finding("layout-scrambled", f"the images `{model}`'s first convolution reads, shape {(b, c, h, w)}, are no "
                   f"image as given: vertically neighbouring pixels differ {fmt(given)} as much as unrelated ones (0 = "
                   f"alike, 1 = noise), while the same values read as ({b}, {h}, {w}, {c}) channels-last memory are "
                   f"{fmt(given / other)}x smoother ({fmt(other)}), neighbours there differing {fmt(local[0])} (down) and "
                   f"{fmt(local[1])} (across) as much as pixels {LOCAL_LAG} apart. A view or reshape (in torch or numpy, before the model) "
                   f"turned channels-last images into ({c}, {h}, {w}) where a permute was meant", SOURCE,
                   evidence=record, location={"module": model})


def targets_misaligned(others: torch.Tensor, own: float, losses: list[str], size: int,
                       record: dict[str, Any]) -> Finding | None:
    """`others`: how far the other samples' loss gradients turned (1 - cosine) when sample 0's targets changed."""
    affected = int((others > OUTPUT_CHANGE).sum())
    if not affected:
        return None
    return finding("targets-misaligned", f"changing sample 0's targets (in {', '.join(sorted(set(losses)))}, batch of "
                   f"{size}) turned the loss gradient of {affected} of the other {size - 1} samples' outputs (1 - cosine up "
                   f"to {float(others.max()):.2g}; its own: {own:.2g}): the targets are scored against other samples' "
                   "outputs", SOURCE_RUN, evidence=record, location={"module": "the loss"})


def causal_leak(change: float, expected: bool, record: dict[str, Any]) -> Finding | None:
    """`change`: the relative change of the outputs at positions 0..record["outputs_up_to"] when input
    record["input"] changed from position record["changed_from"] on."""
    if not change > OUTPUT_CHANGE or not expected:  # a NaN change (a model that made NaN) measured nothing
        return None
    tensor, start, last = record["input"], record["changed_from"], record["outputs_up_to"]
    return finding("causal-leak", f"changing input `{tensor}` from position {start} on (dim {record['time_dim']}) "
                   f"changed the outputs at positions 0..{last} (max relative change {change:.2g}); "
                   f"{record['task']}, so the output at p must not read the inputs from p + {record['steps']} on: "
                   "the model sees the future it is scored against", SOURCE, evidence=record)


def shifted_too_far(steps: int, tokens: bool, record: dict[str, Any]) -> Finding | None:
    """Next-step targets `steps` positions ahead of an input; `tokens`: that input and the targets are integer ids."""
    if steps < 2 or not tokens:
        return None
    return finding("targets-too-far-ahead", f"{record['task']}: the output at position p is scored against token "
                   f"p + {steps}, so the token p + 1 the model should predict is skipped — shifted twice (in the data "
                   "and again in the model or the loss)", SOURCE, evidence=record)


def target_copy(change: float, share: float, tensor: str, record: dict[str, Any]) -> Finding | None:
    """`change`: the relative change of the outputs when input `tensor`, equal to the targets at `share` of
    positions, was replaced by other values (record["bottleneck"] absent: for floating targets, no layer
    narrower than them carries all of the input)."""
    if not change > OUTPUT_CHANGE:  # a NaN change (a model that made NaN) measured nothing
        return None
    if record.get("floating"):
        why = (", and no layer narrower than the targets carries all of it on the way to the outputs: the loss rewards "
               "copying the input — for a denoiser, the target is the noise or the clean sample, not the noisy input")
    else:
        why = ": the answer is in the input — for a next-token model, the targets are not shifted by one"
    return finding("label-leakage", f"input `{tensor}` equals the targets at {share:.0%} of positions, and the model's "
                   f"outputs follow it (replacing it changed them by up to {change:.2g}, relative){why}",
                   SOURCE, evidence=record)


def batch_size_error(size: int, odd: int, error: str, detail: str) -> Finding:
    """The forward and loss ran on the batch but raised on `odd` of its samples."""
    return finding("batch-size-assumption", f"the forward pass and loss run on the batch of {size}, but with {odd} "
                   f"samples they raised {error}", SOURCE, evidence={"batch": odd, "original_batch": size, "error": detail})


def batch_size_shape(size: int, odd: int, base: Sequence[int] | None, got: Sequence[int] | None,
                     record: dict[str, Any]) -> Finding | None:
    """Per-sample output shapes (`base` on the batch, `got` on `odd` samples; None: no dim of the samples)."""
    if base is None or (got is not None and list(got) == list(base)):
        return None
    what = "has no dimension of that size" if got is None else f"holds samples of shape {list(got)}"
    return finding("batch-size-assumption", f"with a batch of {odd} instead of {size}, the output {what} (with {size}: "
                   f"{list(base)} per sample)", SOURCE, evidence={**record, "original_batch": size})


def nondeterministic_eval(training: Sequence[tuple[str, str, int, str]], repeat_diff: float, spread: float,
                          sampling: bool, record: dict[str, Any]) -> Finding | None:
    """`training`: the training-form operations an eval forward ran, most frequent first, as (what, where
    shown, calls, module); `repeat_diff`: between two eval passes with the same draws; `spread`: over
    other draws; `sampling`: whether random operations ran (sampling by design)."""
    if training:
        what, shown, n, module = training[0]
        more = len(training) - 1
        text = (f"in eval mode, {shown} {what}" + (f" ({n} calls)" if n > 1 else "")
                + (f", and {more} other training-mode operation(s)" if more else "")
                + (f"; evaluation outputs change with the random draws by up to {spread:.3g}" if spread else ""))
        return finding("nondeterministic-eval", text, SOURCE, evidence=record, location={"module": module})
    if repeat_diff > 0 and not sampling:
        return finding("nondeterministic-eval", f"two evaluation passes on the same batch differ by up to {repeat_diff:.3g}, "
                       "from the same model state, and no dropout, batch-statistics or sampling operation ran: the "
                       "forward keeps state outside the model between calls, or a kernel is nondeterministic", SOURCE, evidence=record)
    return None


# ── activations ───────────────────────────────────────────────────────────────

def dead_relu(layers: dict[str, dict[str, Any]], samples: int, threshold: float) -> Finding | None:
    """ReLU layers with at least `threshold` of their units inactive on every sample (thresholds.py:
    DEAD_RELU_INIT before training, DEAD_RELU_TRAINED after); not judged on fewer than DEAD_MIN_SAMPLES."""
    if samples < DEAD_MIN_SAMPLES:
        return None
    dead = {n: s["dead_fraction"] for n, s in layers.items() if s.get("dead_fraction", 0) >= threshold}
    if not dead:
        return None
    worst = max(dead, key=dead.__getitem__)
    return finding("dead-relu", f"{len(dead)} ReLU layer(s) with at least {threshold:.0%} of their units inactive on every "
                   f"sample of the batch; worst `{worst}`: {dead[worst]:.0%} dead", SOURCE,
                   evidence={"layers": layers}, location={"module": worst})


def saturated_activations(layers: dict[str, dict[str, Any]], trained: bool = False) -> Finding | None:
    """`trained`: run's model as training left it. Recurrent gates are read from the weights training started
    from, and other layers there too (`at_start`) — a forecast, not what training met: whether they held the loss
    back shows in the loss, so alone they are information here, and an error once the loss does not learn
    (follow_consequence). Layers pinned only after training may be what a failure did (weights blown up)."""
    sat = {n: s["saturated_fraction"] for n, s in layers.items() if s.get("saturated_fraction", 0) >= SATURATED}
    if not sat:
        return None
    worst = max(sat, key=sat.__getitem__)
    # Pinned at the weights training started from as well: the initialisation put them there.
    from_start = [n for n in sat if layers[n].get("at_start", 0) >= SATURATED]
    forecast = trained and all(str(layers[n].get("kind", "")).endswith(" gates") or n in from_start for n in sat)
    start = (f"; already {layers[worst]['at_start']:.0%} at the weights training started from, so the gradient "
             f"through them vanished from the first step" if worst in from_start else "")
    return finding("saturated-activations", f"{len(sat)} sigmoid/tanh layer(s) with at least half their outputs "
                   f"within 1% of the bounds; worst `{worst}`: {sat[worst]:.0%}{start}", SOURCE,
                   evidence={"layers": layers, "forecast": forecast}, location={"module": worst},
                   severity="info" if forecast else None)


# ── gradients and updates ─────────────────────────────────────────────────────

def disconnected_parameters(disconnected: Sequence[str], trainable: int, record: dict[str, Any]) -> Finding | None:
    """Trainable parameters the loss gives no gradient (grad None): an error when none gets one."""
    if not disconnected:
        return None
    return finding("optimizer-params-unused", f"{len(disconnected)} of {trainable} trainable parameter tensors get "
                   f"no gradient from the loss (grad is None): " + ", ".join(f"`{n}`" for n in disconnected[:4]),
                   SOURCE, severity="error" if len(disconnected) == trainable else "warning", evidence=record,
                   location={"module": disconnected[0]})


def gradient_ratio(ratio: float, first: tuple[str, float], last: tuple[str, float], record: dict[str, Any]) -> Finding | None:
    """`ratio` of the (name, |grad|/|weight|) of the first and last weight matrices, after one backward."""
    code = "vanishing-gradients" if ratio < VANISHING_FIRST_LAST else "exploding-gradients" if ratio > EXPLODING_FIRST_LAST else None
    if code is None:
        return None
    where = f"`{first[0]}` {first[1]:.2g} vs `{last[0]}` {last[1]:.2g} (|grad|/|weight|)"
    return finding(code, f"first/last layer relative gradient {ratio:.2g}: {where}", SOURCE, evidence=record,
                   location={"module": first[0]})


def update_size(median: float, optimizer: str, steps: int, record: dict[str, Any]) -> Finding | None:
    """The median per-layer update/weight ratio over `steps` steps on a copy (`optimizer`: "AdamW (lr 0.001)")."""
    said = f"{optimizer}: median update/weight ratio over {steps} steps on a copy is {median:.2g} (healthy: about 1e-3)"
    if median > LARGE_UPDATE:
        return finding("lr-too-high", said, SOURCE, severity="warning", evidence=record)
    if median < PROBE_SMALL_UPDATE:
        return finding("lr-too-low", said, SOURCE, evidence=record)
    return None


def bad_custom_gradient(function: str, error: str, record: dict[str, Any]) -> Finding:
    """gradcheck (thresholds.py: GRADCHECK_*) failed for a custom autograd.Function."""
    return finding("bad-custom-gradient", f"gradcheck (float64) of `{function}` failed: {error}", SOURCE,
                   evidence=record, location={"module": function})


# ── training on a copy ────────────────────────────────────────────────────────

def overfit_passed(losses: Sequence[float]) -> bool:
    return math.isfinite(losses[-1]) and (losses[-1] <= OVERFIT_TARGET * losses[0] or losses[-1] < OVERFIT_FLOOR)


def stalled_at(losses: Sequence[float]) -> int | None:
    """The first step from which the loss improved by less than OVERFIT_STALL over a window (a fifth of
    the steps, at least 10)."""
    window = max(10, len(losses) // 5)
    return next((i for i in range(len(losses) - window)
                 if min(losses[i:i + window]) > losses[i] * (1 - OVERFIT_STALL)), None)


def cannot_overfit(optimizer: str, tried: Sequence[float], steps: int, losses: Sequence[float], stall: int | None,
                   grad_norms: dict[str, float], record: dict[str, Any]) -> Finding:
    """After every attempt (learning rates `tried`, up to `steps` steps each) failed overfit_passed."""
    first, last, best = losses[0], losses[-1], min(losses)
    where = f"; it stalled from step {stall} on" if stall is not None else ""
    return finding("cannot-overfit-batch",
                   f"{optimizer} on one batch ({' and '.join(f'lr {fmt(lr)}' for lr in tried)}, up to {steps} steps each) "
                   f"took the loss from {fmt(first)} to {fmt(last)} (best {fmt(best)}); a working model reaches below "
                   f"{fmt(OVERFIT_TARGET * first)}{where}; gradient norms at the end: "
                   + ", ".join(f"{k} {fmt(v)}" for k, v in grad_norms.items()), SOURCE, evidence=record)


def input_ignored(first: float, real: float, zeroed: float, random: float, record: dict[str, Any]) -> Finding | None:
    """Losses of the copy that overfit the batch (it started at `first`), on real, zeroed and random inputs."""
    learned = first - real
    if learned <= 0 or max(zeroed, random) - real >= INPUT_IGNORED * learned:
        return None
    return finding("input-ignored", f"after overfitting, the loss is {fmt(real)} on the real inputs, {fmt(zeroed)} on "
                   f"zeroed and {fmt(random)} on random inputs (it started at {fmt(first)}): destroying the inputs undoes "
                   f"less than {INPUT_IGNORED:.0%} of what fitting the batch achieved", SOURCE, evidence=record)


def lr_beyond_divergence(current_lr: float | None, diverged_at: float | None, suggested: float,
                         record: dict[str, Any]) -> Finding | None:
    """The configured learning rate at or above the one where the LR range test's loss diverged."""
    if not current_lr or not diverged_at or current_lr < diverged_at:
        return None
    return finding("lr-too-high", f"in an LR range test on a copy the loss diverged at lr {fmt(diverged_at)}; the "
                   f"configured lr is {fmt(current_lr)} (suggested: {fmt(suggested)})", SOURCE, severity="warning",
                   evidence=record)


# ── attention masks ───────────────────────────────────────────────────────────

def padding_mask_inverted(calls: Sequence[dict[str, Any]], padded: dict[str, dict[str, Any]],
                          record: dict[str, Any]) -> Finding | None:
    """`calls`: per attention call (`call`) and padded input (`padded[input]`: its pad value and side), the
    share of the input's content positions the call's mask hides from every query and the share of its
    padding it leaves visible. A mask that hides MASK_AGREEMENT of one input's content and shows as much of
    its padding is that padding's complement — unless it is another input's padding mask (a left-padded
    source's mask can be the complement of a right-padded target's padding)."""
    agree = 1 - MASK_AGREEMENT
    correct = {c["call"] for c in calls if c["content_hidden"] <= agree and c["padding_visible"] <= agree}
    inverted = [c for c in calls if c["call"] not in correct and c["content_hidden"] >= MASK_AGREEMENT
                and c["padding_visible"] >= MASK_AGREEMENT]
    if not inverted:
        return None
    first = inverted[0]
    pad = padded[first["input"]]
    where = "tails" if pad["padded_at"] == "end" else "heads"
    return finding("padding-mask-inverted", f"the attention mask {first['op']} received in `{first['module']}` hides "
                   f"{first['content_hidden']:.0%} of the content positions of input `{first['input']}` from every query "
                   f"and leaves {first['padding_visible']:.0%} of its padding (value {pad['pad_value']}, at the {where} "
                   f"of the sequences) visible ({len({c['call'] for c in inverted})} of {len({c['call'] for c in calls})} "
                   "attention call(s)): attention sees only "
                   "the padding — a mask whose True means 'real token' passed where True means 'ignore this key'",
                   SOURCE, evidence=record, location={"module": first["module"]})
