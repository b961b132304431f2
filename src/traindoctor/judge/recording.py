"""run's rules over what the Recorder gathered: each group checked apart, so a bug in one does not hide
the others' findings."""

from __future__ import annotations

from ..vocabulary.finding import Finding
from ..measure.recorder import Recorder
from . import adversaries, loop, loss, modes, numerics


def analyze(rec: Recorder) -> tuple[list[Finding], list[str]]:
    """Findings, plus a note per rule group that failed (a bug of ours must not hide the others)."""
    found: list[Finding] = []
    failed: list[str] = []
    for module in (numerics, loss, loop, modes, adversaries):
        try:
            found.extend(module.check(rec))
        except Exception as exc:
            failed.append(f"{module.__name__.rsplit('.', 1)[-1]} rules failed: {type(exc).__name__}: {exc}")
    return found, failed
