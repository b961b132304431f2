"""run's numerics: the first non-finite step (judged by the Monitor's rule, judge/nonfinite.py), the
scale of the data where the model's first weighted layer receives it, and the precision the
optimizers update their parameters in."""

from __future__ import annotations

import math
from typing import Any

import torch

from ..measure.losses import BINARY, CLASSIFICATION
from ..measure.recorder import OptState, Recorder
from ..measure.records import InputScale
from ..measure.steps import parameter_names
from ..vocabulary.finding import Finding, finding
from ..vocabulary.numbers import fmt
from .nonfinite import findings
from .experiments import learned, not_learning
from .thresholds import CHANCE_LABELS, FIRST_LAYER_RMS, UNNORMALIZED_SCALE

LOW_PRECISION = (torch.float16, torch.bfloat16)


def check(rec: Recorder) -> list[Finding]:
    out = []
    if rec.nonfinite is not None:  # the first non-finite step, explained by the Monitor's rule
        step = rec.nonfinite["step"]
        recent = [r for r in rec.records if r["step"] < step]
        out += findings(rec.nonfinite, recent, rec.source)
    stuck = why_not_learning(rec)
    return out + _input_scale(rec, stuck) + _low_precision(rec, stuck)


def why_not_learning(rec: Recorder) -> str | None:
    """Why the run does not learn — non-finite gradients or loss, or the loss as judge/experiments.py reads it
    for the experiments — or None."""
    if rec.nonfinite is not None:
        return f"the run went non-finite at step {rec.nonfinite['step']}"
    reason = not_learning([r["loss"] for r in rec.records], chance_of(rec), rec.n_steps)
    return f"the loss {reason}" if reason else None


def how_learned(rec: Recorder) -> str | None:
    """How the run's loss learned (judge/experiments.learned), or None: not finite, too short, or stuck."""
    return learned([r["loss"] for r in rec.records], chance_of(rec), rec.n_steps) if rec.nonfinite is None else None


def chance_of(rec: Recorder) -> float | None:
    """The loss of the best model that ignores its inputs: for a classifier, the entropy of the class
    frequencies in the targets fed (it predicts them for every sample) when they were profiled, and ln C
    otherwise; for a regression, the targets' variance. A loss that falls from ln C to the frequencies'
    entropy has learned which classes are common, nothing about the inputs. In the recorded loss's units:
    times the factor the loss function enters it with (_weight)."""
    first = rec.first_loss or {}
    chance = first.get("chance")
    if chance is None:
        return None
    return _weight(rec, first["loss"]) * _chance(rec, first, chance)


def _chance(rec: Recorder, first: dict[str, Any], chance: float) -> float:
    """chance_of in the loss function's own units."""
    if first["loss"] not in CLASSIFICATION + BINARY:
        return chance
    stream = rec.batches.targets.get(first["loss"])
    if stream is None or len(stream.classes) > 1:  # several call sites pooled: their frequencies mean nothing
        return chance
    per_dim = stream.profile.counts.get("target") or []
    entropies = [_entropy(c.counts, binary=first["loss"] in BINARY) for c in per_dim]
    if not entropies or any(h is None for h in entropies):
        return chance
    return min(chance, sum(entropies) / len(entropies))


def _weight(rec: Recorder, name: str) -> float:
    """The constant factor the loss function `name` enters the recorded loss with, when a loss head on tape
    is that one call times a number (a mean divided again by a count, a loss scaled for accumulation) plus
    penalties on the weights: its chance level is in the function's units, the records in the loss's. 1 for
    anything else (several terms: their mix is not one factor)."""
    for tapes in rec.tapes.values():
        terms = [t for t in tapes[-1].terms() if not t.weights_only] if tapes else []
        if len(terms) == 1 and terms[0].name == name and terms[0].weight > 0:
            return terms[0].weight
    return 1.0


def _entropy(counts: dict | None, binary: bool) -> float | None:
    """In nats, of the values' frequencies; None when they are not class labels (too many, or not 0/1 for a
    binary loss) or too few to tell."""
    if not counts or (binary and not set(counts) <= {0, 1, 0.0, 1.0}):
        return None
    total = sum(counts.values())
    if total < CHANCE_LABELS:
        return None
    return -sum(c / total * math.log(c / total) for c in counts.values() if c)


def severity_of(stuck: str | None) -> str:
    """Severity follows consequence: a cause whose run does not learn is an error."""
    return "error" if stuck else "warning"


# ── the data's scale ──────────────────────────────────────────────────────────

def _rms(seen: InputScale) -> float:
    """Root mean square of the values, from the columns kept (the largest): exact up to the recorder's
    column cap, a lower bound beyond it."""
    return math.sqrt(sum(m * m + s * s for m, s in zip(seen["mean"], seen["std"])) / max(seen["n_features"], 1))


def _out_of_scale(seen: InputScale) -> list[int] | None:
    """Indices (into the kept columns) above UNNORMALIZED_SCALE; for what the first weighted layer
    receives also every column when their root mean square exceeds FIRST_LAYER_RMS. None: in scale.
    A normalization straight after that layer (conv -> BatchNorm) divides out any scale the columns share, in
    the forward and in the layer's gradient alike: only columns UNNORMALIZED_SCALE times the typical one are
    then out of scale."""
    if "normalized_by" in seen:  # against the typical kept column (the kept are the largest: a high bar)
        typical = seen["scale"][len(seen["scale"]) // 2]
        return [i for i, v in enumerate(seen["scale"]) if v > UNNORMALIZED_SCALE * typical] or None
    bad = [i for i, v in enumerate(seen["scale"]) if v > UNNORMALIZED_SCALE]
    if not bad and "layer" in seen and _rms(seen) > FIRST_LAYER_RMS:
        bad = list(range(len(seen["scale"])))
    return bad or None


def _input_scale(rec: Recorder, stuck: str | None) -> list[Finding]:
    """One finding at most: what the first weighted layer receives is read before the model's raw inputs."""
    for seen in sorted(rec.input_scale, key=lambda s: "layer" not in s):
        bad = _out_of_scale(seen)
        if bad is None:
            continue
        bad.sort(key=lambda i: seen["columns"][i])
        rms = _rms(seen)
        evidence = {"tensor": seen["tensor"], "shape": seen["shape"], "feature_dim": seen["feature_dim"],
                    "columns": [seen["columns"][i] for i in bad[:8]], "n_columns": len(bad),
                    "n_features": seen["n_features"], "mean": [seen["mean"][i] for i in bad[:8]],
                    "std": [seen["std"][i] for i in bad[:8]], "max_scale": seen["scale"][0], "rms": rms,
                    "first_layer": seen.get("layer"), "not_learning": stuck}
        cols = ", ".join(f"{c} (mean {fmt(m)}, std {fmt(s)})"
                         for c, m, s in zip(evidence["columns"][:4], evidence["mean"], evidence["std"]))
        where = f"model input `{seen['tensor']}`"
        if "layer" in seen:  # the recorder names a tensor the model computed `input of LAYER`
            what = "what the model computed from its inputs" if seen["tensor"].startswith("input of ") else where
            where = f"`{seen['layer']}`, the model's first weighted layer, receives {what}"
        if len(bad) < len(seen["scale"]) or seen["scale"][-1] > UNNORMALIZED_SCALE:
            said = (f"{where} (shape {seen['shape']}): {len(bad)} of {seen['n_features']} features have scale above "
                    f"{UNNORMALIZED_SCALE:g} — {cols}")
        else:
            said = (f"{where} (shape {seen['shape']}) at root-mean-square {fmt(rms)}, above {FIRST_LAYER_RMS:g} "
                    f"(unit scale is about 1); largest features along dim {seen['feature_dim']}: {cols}")
        if stuck:
            said += f"; {stuck}"
        return [finding("unnormalized-inputs", said, rec.source, evidence=evidence, severity=severity_of(stuck),
                        location={"tensor": seen["tensor"], "module": seen.get("layer")})]
    return []


# ── the optimizers' precision ─────────────────────────────────────────────────

def _rounds_in_param_dtype(opt: torch.optim.Optimizer) -> bool:
    """torch.optim's own update rules compute state and update in the parameter's dtype (no float32 master
    copy, no stochastic rounding); an optimizer written elsewhere may keep one, so it is not judged."""
    return getattr(type(opt).step, "__module__", "").startswith("torch.optim")


def _low_precision(rec: Recorder, stuck: str | None) -> list[Finding]:
    out = []
    for st in rec.optimizers.values():
        low = [p for p in st.params() if p.requires_grad and p.dtype in LOW_PRECISION]
        if low and _rounds_in_param_dtype(st.opt):
            out.append(_precision_finding(rec, st, low, stuck))
    return out


def _precision_finding(rec: Recorder, st: OptState, low: list[torch.Tensor], stuck: str | None) -> Finding:
    opt, trained = st.opt, [p for p in st.params() if p.requires_grad]
    dtypes = sorted({str(p.dtype).replace("torch.", "") for p in low})
    info = torch.finfo(low[0].dtype)
    names = parameter_names(low, rec.models())
    eps = next((g["eps"] for g in opt.param_groups if isinstance(g.get("eps"), float)), None)
    lrs = sorted({float(g["lr"]) for g in opt.param_groups})
    evidence: dict[str, Any] = {
        "optimizer": type(opt).__name__, "dtypes": dtypes, "parameters": names[:20], "n_low_precision": len(low),
        "n_trained": len(trained), "lr": lrs, "relative_precision": info.eps, "smallest_normal": info.tiny,
        "state_dtypes": sorted({str(v.dtype).replace("torch.", "") for s in opt.state.values()
                                for v in s.values() if isinstance(v, torch.Tensor) and v.dim()}),
        "nonfinite": rec.nonfinite is not None, "not_learning": stuck}
    said = (f"{type(opt).__name__} (lr {', '.join(fmt(x) for x in lrs)}) updates {len(low)} of {len(trained)} "
            f"parameters stored in {' and '.join(dtypes)} ({', '.join(names[:3])}{', ...' if len(names) > 3 else ''}) "
            f"with no float32 copy: its state and each update are rounded to {round(1 - math.log2(info.eps))} "
            f"significant bits, so a change below {fmt(info.eps / 4)} of a weight is lost")
    if eps is not None and torch.tensor(eps, dtype=low[0].dtype).item() == 0:
        said += f"; its eps {fmt(eps)} rounds to 0 in {str(low[0].dtype).replace('torch.', '')}"
        evidence["eps"] = eps
    if stuck:
        said += f"; {stuck}"
    return finding("low-precision-params", said, rec.source, evidence=evidence, severity=severity_of(stuck),
                   location={"tensor": names[0]})
