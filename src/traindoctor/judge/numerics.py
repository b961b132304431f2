"""Non-finite values (input, forward, backward) and input scale."""

from __future__ import annotations

import math

from ..vocabulary.finding import Finding, finding
from ..measure.recorder import Recorder
from ..measure.stats import fmt
from .common import plural


def check(rec: Recorder) -> list[Finding]:
    out = []
    event, grad = rec.nonfinite, rec.nonfinite_grad
    if grad and event and grad["step"] < event["step"] and grad["loss"] is not None and math.isfinite(grad["loss"]):
        event = None  # gradients went non-finite first; the later NaN forward is a consequence (NaN weights)
    if event and "input" in event:
        inp = event["input"]
        where = (f"feature columns {inp['columns']}" + (f" (of {inp['n_columns']})" if inp["n_columns"] > len(inp["columns"]) else "")
                 if "columns" in inp else f"positions {inp['positions']}")
        what = "the loss target" if inp["tensor"] == "target" else f"model input `{inp['tensor']}`"
        out.append(finding(
            "nonfinite-input",
            f"{what} (shape {inp['shape']}) holds {inp['nonfinite']} non-finite values ({inp['nan']} NaN) in {where}"
            + (f", rows {inp['first_rows']}" if "first_rows" in inp else "")
            + f"; the loss became {event['loss']} at step {event['step']}",
            rec.source, evidence=event, location={**event.get("location", {}), "step": event["step"], "tensor": inp["tensor"]},
        ))
    elif event and "forward" in event:
        fwd = event["forward"]
        if fwd.get("module"):
            obs = (f"module `{fwd['module']}` ({fwd['type']}) returned NaN/Inf from finite inputs when the batch "
                   f"of step {event['step']} was replayed on a copy; the loss was {event['loss']}")
            loc = {"module": fwd["module"]}
        elif fwd.get("output_finite"):
            obs = (f"the loss became {event['loss']} at step {event['step']} while the model's output was finite: "
                   f"the loss computation (`{fwd.get('loss_function', 'the loss')}` or code around it) produced it")
            loc = {"module": "<loss>"}
        else:
            obs = f"the loss became {event['loss']} at step {event['step']}; " + fwd.get("skipped", "no module could be named")
            loc = {}
        out.append(finding("nonfinite-forward", obs, rec.source, evidence=event,
                           location={**event.get("location", {}), **loc, "step": event["step"]}))
    if grad and (grad["loss"] is None or math.isfinite(grad["loss"])) and not event:
        names = ", ".join(f"`{n}`" for n in grad["parameters"][:4])
        out.append(finding(
            "nonfinite-backward",
            f"gradients of {plural(grad['n_parameters'], 'parameter')} became non-finite at step {grad['step']} "
            f"while the loss was finite ({fmt(grad['loss'])}): {names}",
            rec.source, evidence=grad, location={"step": grad["step"], "module": grad["parameters"][0] if grad["parameters"] else None},
        ))
    for entry in rec.input_scale:
        if entry["columns"]:
            cols = ", ".join(f"{c} (mean {fmt(m)}, std {fmt(s)})" for c, m, s in zip(entry["columns"][:4], entry["mean"], entry["std"]))
            out.append(finding(
                "unnormalized-inputs",
                f"model input `{entry['tensor']}` (shape {entry['shape']}): {entry['n_columns']} of {entry['n_features']} "
                f"features have scale above 100 — {cols}",
                rec.source, evidence=entry, location={"tensor": entry["tensor"]},
            ))
            break
    return out
