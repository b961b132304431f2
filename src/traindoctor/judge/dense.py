"""Dense targets displaced from their inputs (measured by measure/dense.py): among the samples whose target
the input's local model explains — better than inputs are explained by other samples' targets — a clear
share is explained markedly better with the target moved (flipped, turned, transposed, shifted) than as given."""

from __future__ import annotations

import re
from collections import Counter

from ..measure import dense
from ..measure.recorder import Recorder
from ..vocabulary.finding import Finding, finding
from .common import main_model, plural
from .numerics import why_not_learning
from .thresholds import (DENSE_ALIGNED, DENSE_CHANCE, DENSE_CONSISTENT, DENSE_FIT, DENSE_MOVED, DENSE_MOVED_MIN, DENSE_MOVED_SHARE,
                         DENSE_OVER_CHANCE)

CODE = "targets-displaced"


def check(rec: Recorder) -> list[Finding]:
    info = main_model(rec)
    tapes = rec.tapes.get(id(info.module), []) if info is not None else []
    measured = dense.measure(tapes) if tapes else None
    return judge(measured, why_not_learning(rec), type(info.module).__name__ if info else "", rec.source)


def judge(measured: dense.Alignment | None, stuck: str | None, model: str, source: str) -> list[Finding]:
    """The finding, if the targets are displaced; `stuck`: why the run does not learn, or None."""
    if measured is None:
        return []
    # Placed: fitted better than all but DENSE_CHANCE of the inputs are by other samples' targets (smooth or
    # sparse targets fit by chance), so that about DENSE_CHANCE of targets unrelated to their inputs would be.
    by_chance = sorted(min(s.fits.values()) for s in measured.elsewhere)
    if not by_chance:
        return []
    chance = by_chance[int(DENSE_CHANCE * (len(by_chance) - 1))]
    placed = [s for s in measured.samples if min(s.fits.values()) <= min(DENSE_FIT, chance)]
    moved = [s for s in placed if s.given > DENSE_ALIGNED and s.best_moved[1] <= DENSE_MOVED * s.given]
    if len(moved) < max(DENSE_MOVED_MIN, DENSE_MOVED_SHARE * len(placed),
                        DENSE_OVER_CHANCE * DENSE_CHANCE * len(measured.samples)):
        return []
    moves = Counter(s.best_moved[0] for s in moved)
    move, count = moves.most_common(1)[0]
    consistent = count >= DENSE_CONSISTENT * len(placed)
    if consistent and (stuck is None or move.startswith("shifted")):
        return []  # one transform for every sample may be the task; a shift, a model's reach
    if _one_horizon(moves):
        return []  # every move the same way and by one offset (an odd one reads as its even neighbours): a forecast
    given = sorted(s.given for s in moved)[len(moved) // 2]
    best = sorted(s.best_moved[1] for s in moved)[len(moved) // 2]
    grid = "x".join(map(str, measured.grid)) if len(measured.grid) > 1 else f"{measured.grid[0]}-long"
    how = ", ".join(f"{n} {m}" for m, n in moves.most_common(3)) + (", …" if len(moves) > 3 else "")
    observation = (
        f"`{model}`'s input ({measured.input_name}) and its targets share a {grid} grid: of the "
        f"{plural(len(placed), 'recorded sample')} whose target a local model of the input explains, {len(moved)} "
        f"are explained markedly better with the target moved ({how}): the median share of the target's variance "
        f"left drops from {given:.2f} as given to {best:.2f} moved")
    if consistent:
        observation += f"; one transform for nearly every sample could be the task, but {stuck}"
    evidence = {"grid": list(measured.grid), "input": measured.input_name, "samples": len(measured.samples),
                "placed": len(placed), "moved": len(moved), "moves": dict(moves.most_common()),
                "chance_fit": round(chance, 3), "left_as_given": round(given, 3), "left_moved": round(best, 3),
                "consistent": consistent}
    return [finding(CODE, observation, source, evidence=evidence)]


def _one_horizon(moves: Counter) -> bool:
    """Whether every move is a shift, all the same way along each dim and within two positions of each other:
    one horizon ahead, which the even offsets measured bracket when it is odd."""
    offsets = []
    for move in moves:
        if not move.startswith("shifted by "):
            return False
        offsets.append([int(v) for v in re.findall(r"-?\d+", move)])
    for dim in zip(*offsets):
        if (min(dim) < 0 < max(dim)) or max(dim) - min(dim) > 2:
            return False
    return True
