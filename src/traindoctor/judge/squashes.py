"""saturated-activations for sigmoid and tanh called as functions by the script (measure/squashes.py): a line
whose outputs sat within 1% of the bounds for at least SATURATED of them at the weights training started
from. Pinned there, the gradient through them vanished from the first step: a forecast the loss confirms or
not (judge/probes.follow_consequence) — information once it learned, an error while it does not. A sigmoid
whose result the loss reads directly is a probability, confident near its bounds by design: left out."""

from __future__ import annotations

import os

from ..measure.recorder import Recorder
from ..vocabulary.finding import Finding, finding
from .numerics import how_learned, why_not_learning
from .probes import follow_consequence
from .thresholds import SATURATED


def check(rec: Recorder) -> list[Finding]:
    sites = [{**s, "pinned": int(s["pinned"])} for s in rec.squashes.values() if not s["into_loss"] and s["numel"]]
    sat = [s for s in sites if s["pinned"] >= SATURATED * s["numel"]]
    if not sat:
        return []
    worst = max(sat, key=lambda s: s["pinned"] / s["numel"])
    share = worst["pinned"] / worst["numel"]
    calls = f" over {worst['calls']} calls" if worst["calls"] > 1 else ""
    more = f" ({len(sat) - 1} more line(s) alike)" if len(sat) > 1 else ""
    found = finding("saturated-activations", f"`{worst['name']}` at {os.path.basename(worst['file'])}:{worst['line']}: "
                    f"{share:.0%} of its outputs within 1% of the bounds{calls} at the weights training started from"
                    f"{more}, so the gradient through it vanished from the first step", rec.source,
                    evidence={"calls": sat, "forecast": True}, location={"file": worst["file"], "line": worst["line"]},
                    severity="info")
    return follow_consequence([found], why_not_learning(rec), how_learned(rec))
