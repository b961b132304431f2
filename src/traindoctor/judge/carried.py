"""A backward() that ran into an earlier optimizer step's graph (measure/carried.py measures it): state carried
across steps without `.detach()`."""

from __future__ import annotations

from ..measure.recorder import Recorder
from ..vocabulary.finding import Finding, finding
from .common import plural, where


def check(rec: Recorder) -> list[Finding]:
    seen = rec.carried
    if seen is None:
        return []
    shape = "x".join(map(str, seen["shape"])) or "scalar"
    params = ", ".join(seen["parameters"]) + (f" and {seen['n_parameters'] - len(seen['parameters'])} more"
                                              if seen["n_parameters"] > len(seen["parameters"]) else "")
    if seen.get("held"):
        output = f"the state {seen['model']} keeps in `self{seen['output']}` (not returned)"
    else:
        output = f"{seen['model']}'s output {seen['output']}" if seen["output"] else f"the output of {seen['model']}"
    observation = (
        f"the backward() of {'step' if seen.get('by_hand') else 'optimizer step'} {seen['step']}{where(seen)} reaches {output} (shape {shape}) built at "
        f"step {seen['built_step']}, "
        f"{plural(seen['steps_back'], 'step')} earlier, and through it the graph that computed it with {params} "
        f"before {'the update written by hand' if seen.get('by_hand') else 'the optimizer'} changed them")
    saved = seen.get("saved")
    if saved and saved["parameters"]:
        shape = "x".join(map(str, saved["shape"]))
        observation += (f"; backward() raised that a saved tensor of shape {shape} is at version {saved['version']} "
                        f"instead of {saved['expected_version']}: it is {' or '.join(saved['parameters'])}, modified by "
                        "the optimizer's step")
    elif "error" in seen:
        observation += f"; backward() raised: {seen['error']}"
    elif seen["step"] - seen["reaches_step"] > 1:
        observation += (f"; nothing failed, and the graph grows every step: it reaches back "
                        f"{plural(seen['step'] - seen['reaches_step'], 'step')}, to step {seen['reaches_step']}")
    else:
        observation += "; nothing failed: each step's backward also runs through the step before"
    return [finding("state-not-detached", observation, rec.source, evidence=dict(seen),
                    location={**seen.get("location", {}), "step": seen["step"]})]
