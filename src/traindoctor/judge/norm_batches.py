"""Batch norm whose training statistics come from one sample (measured by measure/norm_batches.py)."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from statistics import median

from ..measure.norm_batches import LayerCall, NormBatches
from ..measure.recorder import Recorder, RootInfo
from ..vocabulary.catalog import get
from ..vocabulary.finding import Finding, finding
from ..vocabulary.hypothesis import KINDS
from .numerics import why_not_learning
from .thresholds import BATCH_NORM_MIN_SAMPLES, MIN_STEPS, MOST_STEPS

CODE = "batchnorm-small-batch"


def _one_sample(nb: NormBatches) -> dict[str, list[tuple[int | None, LayerCall]]]:
    """Per layer, the sampled training calls where its statistics covered fewer than BATCH_NORM_MIN_SAMPLES
    samples, when they are most of the model's sampled training calls."""
    seen: dict[str, list[tuple[int | None, LayerCall]]] = {}
    for batch, layers in nb.calls:
        for layer in layers:
            if layer.samples(batch) < BATCH_NORM_MIN_SAMPLES:
                seen.setdefault(layer.layer, []).append((batch, layer))
    return {k: v for k, v in seen.items() if len(v) >= MIN_STEPS and len(v) > MOST_STEPS * len(nb.calls)}


def _names(layers: list[str], kinds: Counter) -> str:
    kind = "/".join(sorted(kinds))
    shown = ", ".join(f"`{n or '(the model)'}`" for n in layers[:3]) + (", …" if len(layers) > 3 else "")
    return f"{kind} {shown}" if len(layers) == 1 else f"{len(layers)} {kind} layers ({shown})"


def _finding(rec: Recorder, info: RootInfo, nb: NormBatches, bad: dict[str, list[tuple[int | None, LayerCall]]],
             stuck: str | None) -> Finding:
    model = type(info.module).__name__
    first, calls = next(iter(bad.items()))
    batch, example = calls[-1]
    looped = example.batch >= BATCH_NORM_MIN_SAMPLES  # one sample per call, though its batch axis holds more
    how = (f"`{first}` ran {example.calls} times per call, once per sample of the model's batch of {batch}, on "
           f"{tuple(example.shape)}" if looped else f"input {tuple(example.shape)} at `{first}`")
    evaluated = info.nograd_calls - info.eval_in_train  # passes without gradients, batch norm in eval mode
    observation = (
        f"`{model}`'s {_names(list(bad), Counter(c[0][1].kind for c in bad.values()))} normalized over one sample in "
        f"{len(calls)} of {len(nb.calls)} sampled training calls ({how}: "
        f"{example.per_channel} elements per channel, from one sample): each sample is normalized by its own mean "
        f"and variance" + (f"; evaluation in eval mode ({evaluated} passes) used running statistics instead"
                           if evaluated else "") + (f"; {stuck}" if stuck else ""))
    batches = [b for b, _ in calls if b is not None]
    hypotheses = None
    if looped:  # the loop over samples is what was measured: it leads, a batch of one follows
        swap = {"likely": "subtle", "subtle": "likely"}
        hypotheses = sorted((replace(h, kind=swap.get(h.kind, h.kind)) for h in get(CODE).hypotheses),
                            key=lambda h: KINDS.index(h.kind))
    return finding(
        CODE, observation, rec.source,
        severity="error" if stuck or evaluated else "warning",
        evidence={"layers": list(bad)[:20], "one_sample_calls": len(calls), "sampled_calls": len(nb.calls),
                  "model_batch": median(batches) if batches else None,
                  "layer_calls_per_model_call": example.calls, "input_shape": example.shape,
                  "elements_per_channel": example.per_channel, "eval_passes": evaluated, "not_learning": stuck},
        location={**nb.location, "module": f"{model}.{first}" if first else model},
        hypotheses=hypotheses,
    )


def check(rec: Recorder) -> list[Finding]:
    out = []
    for info in rec.roots.values():
        nb = info.norm_batches
        bad = _one_sample(nb) if nb is not None else {}
        if bad:
            out.append(_finding(rec, info, nb, bad, why_not_learning(rec)))
    return out
