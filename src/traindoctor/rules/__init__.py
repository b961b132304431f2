"""Rules turn what the Recorder gathered into Findings. They measure nothing themselves."""

from __future__ import annotations

from ..findings import Finding
from ..record.recorder import Recorder
from . import loop, loss, modes, numerics


def analyze(rec: Recorder) -> list[Finding]:
    found: list[Finding] = []
    for module in (numerics, loss, loop, modes):
        found.extend(module.check(rec))
    return found
