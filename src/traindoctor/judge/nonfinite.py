"""The first non-finite loss or gradient of a run, attributed from its step record alone.

Written once, used online (the Monitor, on the records it builds), offline (`load_run`, on the
records read back from monitor.jsonl) and by `run` (judge/numerics.py, on the record the Recorder
kept of its first non-finite step): everything the attribution needs travels in the record.
measure/localise.py adds these fields (measure/records.py: NonfiniteFields) to a non-finite step's
record (and only to it):

- `nonfinite_inputs`: {tensor name: where it is non-finite, or None} for the floating tensors that
  entered the model non-finite at that step (checked on the device at every step, read at the sync);
- `inputs_checked`: how many tensors entering the model were checked at that step (integer ones are
  finite by type);
- `output_finite`: whether the model's output was finite at that step (when it was seen);
- `nonfinite_grads`: the parameters whose gradient is non-finite;
- `replay`: the replay of the step's batch on a copy ({module, type}, {module: None,
  output_finite}), or {skipped: why it was not replayed}; run adds the loss function called last;
  `function`: the first torch call there that turned finite arguments into NaN/Inf (`born_in` reads
  whether the function itself made it, and the finding then names it, its line and its guard);
- run only: `location` (the user's line, file and line), `n_nonfinite_grads` when more than the
  named ones, `seen_as` when the step was found later (non-finite parameters after an update);
- under DDP, `nonfinite_rank`: the rank these fields come from, and `nonfinite_ranks`: the ranks
  whose loss was non-finite.

A batch holding NaN whose loss and gradients stay finite (values masked inside the model) is not
reported: only what reaches the loss or the gradients is.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from ..vocabulary.finding import Finding, finding
from ..vocabulary.numbers import fmt, nonfinite, power
from .thresholds import LARGE_UPDATE, RATE_ALONE_UPDATE, STEEP_GROWTH

RECENT = 20  # records before a non-finite step kept in its evidence: the flight recorder's view of it
FIELDS = ("nonfinite_inputs", "inputs_checked", "output_finite", "nonfinite_grads", "n_nonfinite_grads", "replay",
          "seen_as")


def kind(record: dict[str, Any]) -> int:
    """0 non-finite batch, 1 non-finite loss, 2 non-finite gradients, 3 finite: the order of root causes."""
    loss_bad = nonfinite(record.get("loss"))
    grads_bad = nonfinite(record.get("grad_norm")) or bool(record.get("nonfinite_grads"))
    if not (loss_bad or grads_bad):
        return 3
    return 0 if record.get("nonfinite_inputs") else 1 if loss_bad else 2


class NonfiniteRule:
    """Fires once, at the first record whose loss or gradients are non-finite."""

    def __init__(self, source: str = "monitor") -> None:
        self.fired, self.source = False, source

    def observe(self, record: dict[str, Any], recent: list[dict[str, Any]]) -> list[Finding]:
        if self.fired or kind(record) == 3:
            return []
        self.fired = True
        return findings(record, recent, self.source)


def findings(r: dict[str, Any], recent: list[dict[str, Any]], source: str = "monitor") -> list[Finding]:
    """The non-finite step explained: one event, one finding, localised as finely as the record allows."""
    return [explain(r, recent, source)]


def explain(r: dict[str, Any], recent: list[dict[str, Any]], source: str = "monitor") -> Finding:
    """nonfinite-input, -forward or -backward; when the replay found the function that made the first
    non-finite value from moderate arguments, the finding names it (born_in) rather than the module."""
    f = _explain(r, recent, source)
    seen = born_in(r)
    if seen and f.code == ("nonfinite-backward" if seen.get("backward") else "nonfinite-forward"):
        f = _at_the_function(f, r, seen)
        if not seen.get("backward") and _family(seen) == _GROWTH and (steep := steep_steps(recent)):
            stable = (f"stayed below {fmt(LARGE_UPDATE)}x the weights" if steep["ratio_before"] < LARGE_UPDATE else
                      f"lowered the loss from {fmt(steep['loss_first'])} to {fmt(steep['loss_before'])}")
            f.observation += (f"; the steps before it {stable} (update ratios up to {power(steep['ratio_before'])}) "
                              f"while the gradient was near its first, then the gradient grew {fmt(steep['growth'])}x "
                              f"through `{seen['name']}`'s own slope: the large steps came from the function, not from "
                              f"the learning rate")
            # Measured, this explanation overrides the catalog's (a rate too high explains a non-finite forward).
            f.evidence |= {"steep": steep, "explains": ["lr-too-high"]}
    return f


def steep_steps(recent: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Whether the gradient grew past STEEP_GROWTH x its first before the non-finite step while the updates
    that came before that growth suited the loss where they were taken: below LARGE_UPDATE, or smaller than
    the weights (RATE_ALONE_UPDATE) and every one of them lowered the loss below where it started — the rate
    fit the loss at the initial weights, and the steps grew with the gradient, not with the rate. None when
    they did not, or nothing was measured."""
    seen = [(_norm(r), r["update_ratio"], r.get("loss")) for r in recent
            if _norm(r) is not None and isinstance(r.get("update_ratio"), float) and math.isfinite(r["update_ratio"])]
    if not seen or not seen[0][0] > 0:
        return None
    first = seen[0][0]
    before = [ratio for norm, ratio, _ in seen if norm <= STEEP_GROWTH * first]
    growth = max(norm for norm, _, _ in seen) / first
    if growth <= STEEP_GROWTH or not before:
        return None
    # The losses measured after the steps taken before the gradient first grew (each loss follows the step
    # before it): one that rose above the first is a step too long for the loss where training started.
    until = next(i for i, (norm, _, _) in enumerate(seen) if norm > STEEP_GROWTH * first)
    losses = [loss for _, _, loss in seen[:until]]
    fell = (len(losses) >= 2 and all(isinstance(v, float) and math.isfinite(v) for v in losses)
            and all(v < losses[0] for v in losses[1:]))
    if max(before) >= LARGE_UPDATE and not (fell and max(before) < RATE_ALONE_UPDATE):
        return None
    return {"ratio_before": max(before), "growth": growth, "first_grad_norm": first,
            "loss_first": losses[0] if losses else None, "loss_before": losses[-1] if losses else None}


def _norm(r: dict[str, Any]) -> float | None:
    """The step's gradient norm, before clipping where it was clipped: what the function's slope made."""
    norm = r.get("grad_norm_before_clip") or r.get("grad_norm")
    return norm if isinstance(norm, float) and math.isfinite(norm) else None


def _explain(r: dict[str, Any], recent: list[dict[str, Any]], source: str) -> Finding:
    step, loss, rank = r["step"], r.get("loss"), r.get("nonfinite_rank")
    head = (f"rank {rank}: " if rank is not None else "") + f"step {step}: "
    evidence = {k: r[k] for k in (*FIELDS, "nonfinite_ranks") if k in r} | {"flight_recorder": list(recent)[-RECENT:]}
    location = {**r.get("location", {}), "step": step, "rank": rank}
    loss_text = f"the loss is {loss}" if loss is not None else "the loss was not logged"
    grads_bad = nonfinite(r.get("grad_norm")) or bool(r.get("nonfinite_grads"))
    inputs = r.get("nonfinite_inputs")
    if inputs:
        name, where = next(iter(inputs.items()))
        count = f" ({where['nonfinite']} of {where['numel']} values)" if isinstance(where, dict) and "numel" in where else ""
        tensors = ", ".join(f"`{n}`" for n in inputs)
        what = "the loss target" if list(inputs) == ["target"] else "the batch entering the model"
        return finding("nonfinite-input", f"{head}{loss_text}{', gradients non-finite' if grads_bad else ''}; {what} "
                       f"held non-finite values in {tensors}{count}{_columns(where)}", source,
                       evidence=evidence, location={**location, "tensor": name})
    if nonfinite(loss):
        replay = r.get("replay") or {}
        if replay.get("module"):
            return finding("nonfinite-forward", f"{head}{loss_text}; replaying the step's batch on a copy, module "
                           f"`{replay['module']}` ({replay['type']}) turns finite inputs into NaN/Inf"
                           f"{_function(replay.get('function'))}", source,
                           evidence=evidence, location={**location, "module": replay["module"]})
        inputs_note = ("the batch entering the model at that step was finite" if r.get("inputs_checked")
                       else "the model's inputs at that step were not seen, so a non-finite batch is not ruled out")
        output = replay.get("output_finite", r.get("output_finite"))
        unlocalised = "which module was not localised: " + replay.get(
            "skipped", "the step's batch is not in the log (rebuilt from monitor.jsonl)")
        if output is True:
            loss_fn = f" (`{replay['loss_function']}`)" if replay.get("loss_function") else ""
            where, title = (f"the model's output was finite, so the loss function{loss_fn} or its targets produced it",
                            "The loss became NaN or Inf from a finite model output")
        elif output is False:
            where, title = (f"the model's output was already non-finite: a module produced it; {unlocalised}",
                            "A module turned finite inputs into NaN or Inf (module not localised)" if r.get("inputs_checked")
                            else "The model's output became NaN or Inf (source not localised)")
        else:
            where, title = unlocalised, "The loss became NaN or Inf (source not localised)"
        if not grads_bad and r.get("grad_norm") is not None:
            where += ("; the gradients are finite, so the non-finite term does not reach the parameters (a detached "
                      "or constant term of the loss, or a metric logged as the loss)")
        return finding("nonfinite-forward", f"{head}{loss_text}; {inputs_note}; {where}", source, evidence=evidence,
                       location=location, title=title)
    names = r.get("nonfinite_grads") or [m for m, v in (r.get("grad_norm_by_module") or {}).items() if nonfinite(v)]
    listed = ": " + ", ".join(f"`{n}`" for n in names[:4]) if names else ""
    forward = ("" if loss is not None else
               " (so a non-finite forward pass is not ruled out: log the loss with mon.log(loss=...) to tell them apart)")
    seen = f" ({r['seen_as']})" if r.get("seen_as") else ""
    count = r.get("n_nonfinite_grads") or len(names) or "some"
    return finding("nonfinite-backward", f"{head}gradients of {count} parameters are non-finite while "
                   f"{loss_text}{forward}{seen}{listed}", source, evidence=evidence,
                   location={**location, "module": names[0] if names else None})


def _function(seen: dict[str, Any] | None) -> str:
    """The call inside the module that did it, with its arguments' magnitude (an overflow of the dtype shows there)."""
    if not seen:
        return ""
    largest = max((max(abs(a["min"]), abs(a["max"])) for a in seen["arguments"] if "max" in a), default=None)
    line = (seen.get("location") or {}).get("line")
    return (f": `{seen['name']}`" + (f" of arguments up to {fmt(largest)} in magnitude" if largest is not None else "")
            + f" ({seen['dtype']}{f', line {line}' if line else ''})")


def _columns(where: Any) -> str:
    """Which feature columns (last dimension) of a located tensor hold them."""
    if not isinstance(where, dict) or not where.get("columns"):
        return ""
    more = f" of {where['n_columns']}" if where.get("n_columns", 0) > len(where["columns"]) else ""
    return f", in feature columns {where['columns']}{more}"


# What guards each family of functions, in the order of the catalog's function hypotheses for
# nonfinite-forward (the derivative's guard is nonfinite-backward's first).
_GUARDS = (
    (("exp", "exp2", "expm1", "pow", "rpow", "cosh", "sinh"),
     "bound its argument (clamp, softplus) or stay in log space: log_softmax / logsumexp instead of exp then "
     "normalise, PoissonNLLLoss(log_input=True) on the log-rate, the log-variance instead of the variance"),
    (("log", "log2", "log10", "log1p"),
     "compute the loss from the logits (cross_entropy, log_softmax, logsigmoid, binary_cross_entropy_with_logits), "
     "or clamp the argument by an eps before the log"),
    (("div", "truediv", "rtruediv", "reciprocal", "rsqrt"),
     "add an eps to the denominator (a std, a norm, a count), or clamp it away from 0"),
)
_GROWTH = 0  # the family whose values grow without bound, and their slope with them


def _family(seen: dict[str, Any]) -> int | None:
    """The family of guards `seen` belongs to; a log of an exp's result undoes it, so the exp's family is
    read before the function's own (its guard never leaves log space)."""
    functions = [a.get("from") for a in seen["arguments"] if "max" in a] + [seen["name"]]
    return next((i for name in functions for i, (names, _) in enumerate(_GUARDS) if name in names), None)


# A derivative that is infinite at a finite argument (sqrt or a norm at 0, acos at 1): moved off the point.
_BACKWARD_GUARD = "add an eps inside it, so its argument never sits where its derivative is infinite (0 for sqrt or a norm)"


def born_in(r: dict[str, Any]) -> dict[str, Any] | None:
    """The torch call the replay of a non-finite step found turning finite arguments into NaN/Inf, when its
    arguments are moderate: below the square root of the dtype's largest value, so no product of two of
    them overflows and the function itself (its growth, a pole or a log at 0) made the non-finite value.
    Larger arguments are an explosion upstream, the function only where it showed: None."""
    seen = (r.get("replay") or {}).get("function")
    if not seen:
        return None
    largest = max((max(abs(a["min"]), abs(a["max"])) for a in seen["arguments"] if "max" in a), default=0.0)
    return None if largest > math.sqrt(seen["dtype_max"]) else seen


def _at_the_function(f: Finding, r: dict[str, Any], seen: dict[str, Any]) -> Finding:
    """The finding retold at the function it was born in: its arguments, module and line, the hypothesis of
    its family read first, and its guard as the next step."""
    args = [a for a in seen["arguments"] if "max" in a]
    ranges = ", ".join((f"`{a['from']}`'s result " if a.get("from") else "") + f"[{fmt(a['min'])}, {fmt(a['max'])}]"
                       + (" holding 0" if a["smallest_magnitude"] == 0 else "") for a in args)
    result = seen["result"]
    made = " and ".join(f"{result[k]} {k}" for k in ("inf", "nan") if result[k])
    where = ("in the loss, computed from the model's output" if seen["in_loss"] else
             f"in module `{seen['module']}`" if seen["module"] else "in the model's forward")
    line = seen.get("location") or {}
    at = f" (line {line['line']})" if line.get("line") else ""
    head = f.observation.split("step ", 1)[0] + f"step {r['step']}: "  # keeps a DDP rank's prefix
    hypotheses = list(f.hypotheses)
    if seen.get("backward"):
        f.observation = (f"{head}the loss is {fmt(r.get('loss'))}, but the gradient of `{seen['name']}` at finite "
                         f"arguments {ranges} is {made} in {result['numel']} values ({seen['dtype']}), {where}{at}; "
                         f"every parameter it reaches gets it")
        f.title, guard, family = "A function's derivative is infinite at the finite arguments it got", _BACKWARD_GUARD, 0
    else:
        f.observation = (f"{head}`{seen['name']}` of finite arguments {ranges} gave {made} of {result['numel']} "
                         f"values ({seen['dtype']}), {where}{at}, so the loss is {r.get('loss')}")
        f.title = "A function turns finite, moderate arguments into NaN or Inf (exp overflow, log or division at 0)"
        family = _family(seen)
        guard = _GUARDS[family][1] if family is not None else None
    if family is not None:  # the one this function belongs to is what was measured: read first, the others after
        measured = replace(hypotheses.pop(family), kind="likely")
        hypotheses = [measured] + [replace(h, kind="subtle") if h.kind == "likely" else h for h in hypotheses]
    f.hypotheses = hypotheses
    f.evidence["function"] = seen
    f.location = {**f.location, **line, "module": seen["module"]}
    f.location = {k: v for k, v in f.location.items() if v is not None}
    if guard:
        f.next_step = f"Guard `{seen['name']}` at that line: {guard}."
    return f
