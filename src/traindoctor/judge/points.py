"""Point targets displaced from their inputs (measured by measure/points.py). Per point column and per move
of the image, the patches at the targets are scored against the other samples' patches under the same move
(their mean, leave-one-out): a sample is *placed* under a move when it scores above all but POINTS_CHANCE of
patches read at another sample's target. Samples not placed as given but placed with the image moved back
are *moved*; when they are a clear share of the placed ones, and sit on their content more clearly than the
hits chance makes at other samples' targets (a one-sided rank test), the targets were left behind by a flip or a turn
of the input alone (targets-displaced). An index target moved by one transpose for nearly every sample was
built in the other axis order than the grid is flattened (targets-misaligned)."""

from __future__ import annotations

from collections import Counter

import torch
from scipy.stats import mannwhitneyu

from ..measure import points
from ..measure.recorder import Recorder
from ..vocabulary.finding import Finding, finding
from .common import main_model
from .numerics import why_not_learning
from .thresholds import (DENSE_CONSISTENT, DENSE_MOVED_MIN, DENSE_MOVED_SHARE, DENSE_OVER_CHANCE, POINTS_CHANCE,
                         POINTS_STRONGER_P)

_AXIS_ORDER = ("transposed", "transposed across the other diagonal")


def check(rec: Recorder) -> list[Finding]:
    info = main_model(rec)
    tapes = rec.tapes.get(id(info.module), []) if info is not None else []
    measured = points.measure(tapes) if tapes else None
    return judge(measured, why_not_learning(rec), type(info.module).__name__ if info else "", rec.source)


def scores(patches: dict[str, torch.Tensor], elsewhere: dict[str, torch.Tensor]
           ) -> tuple[dict[str, torch.Tensor], dict[str, float], list[float]]:
    """Per move, each sample's score against the others' mean patch, and the chance level: the 1 - POINTS_CHANCE
    quantile of the scores of patches read at another sample's target; and chance's own hits: the scores of those
    patches above it, each over its move's chance level."""
    out, chance, hits = {}, {}, []
    for g, p in patches.items():
        n = len(p)
        others = (p.sum(0, keepdim=True) - p) / (n - 1)  # each sample's template leaves it out
        out[g] = (p * others).sum(1) / others.norm(dim=1).clamp_min(1e-12)
        mean = p.mean(0)
        by_chance = elsewhere[g] @ mean / mean.norm().clamp_min(1e-12)
        chance[g] = float(torch.quantile(by_chance, 1 - POINTS_CHANCE))
        hits += [float(v) / chance[g] for v in by_chance if chance[g] > 0 and float(v) > chance[g]]
    return out, chance, hits


def judge(measured: points.Points | None, stuck: str | None, model: str, source: str) -> list[Finding]:
    if measured is None:
        return []
    placed = moved = tested = 0
    moves: Counter = Counter()
    strength: list[float] = []  # each moved hit's score over its move's chance level
    by_chance: list[float] = []
    for patches, elsewhere in zip(measured.patches, measured.elsewhere):
        s, chance, hits = scores(patches, elsewhere)
        by_chance += hits
        ok = {g: s[g] > chance[g] for g in s}
        given = ok[points.IDENTITY]
        for i in range(len(given)):
            tested += 1
            here = [g for g in s if ok[g][i] and g != points.IDENTITY]
            if bool(given[i]):
                placed += 1
            elif here:
                placed += 1
                moved += 1
                best = max(here, key=lambda g: float(s[g][i]))
                moves[best] += 1
                strength.append(float(s[best][i]) / chance[best])
    not_given = tested - (placed - moved)
    expected = POINTS_CHANCE * (len(measured.patches[0]) - 1) * not_given  # chance hits among the other moves
    if not moves or moved < max(DENSE_MOVED_MIN, DENSE_MOVED_SHARE * placed, DENSE_OVER_CHANCE * expected):
        return []
    # Content left behind by a flip sits on its moved targets as clearly as content does anywhere; hits that are
    # no stronger than those chance makes at other samples' targets are chance's, however many the moves add up.
    if by_chance and mannwhitneyu(strength, by_chance, alternative="greater").pvalue > POINTS_STRONGER_P:
        return []
    move, count = moves.most_common(1)[0]
    consistent = count >= DENSE_CONSISTENT * placed
    h, w = measured.grid
    how = ", ".join(f"{n} {m}" for m, n in moves.most_common(3)) + (", …" if len(moves) > 3 else "")
    evidence = {"grid": [h, w], "input": measured.input_name, "kind": measured.kind, "scale": measured.scale,
                "points": len(measured.patches), "tested": tested, "placed": placed, "moved": moved,
                "moves": dict(moves.most_common()), "expected_by_chance": round(expected, 1), "consistent": consistent}
    if measured.kind == "index" and consistent and move in _AXIS_ORDER:
        return [finding("targets-misaligned", (
            f"`{model}`'s targets are class indices over the {h}x{w} cells of its input ({measured.input_name}), read "
            f"row-major as the grid is flattened: at {count} of the {placed} samples whose target sits on content "
            f"alike across samples, it does so only with the image {move} — the index was built in the other axis "
            "order (x * width + y where y * width + x was meant), so each cell's score is trained against another "
            "cell's label"), source, evidence=evidence)]
    if consistent and stuck is None:
        return []  # one transform for every sample may be the task
    observation = (
        f"`{model}`'s point targets ({measured.kind}, read as {measured.scale} on the {h}x{w} grid of "
        f"{measured.input_name}): of the {placed} (sample, point) pairs whose target sits on content alike across "
        f"samples, {moved} do so only with the image moved ({how}) — about {expected:.0f} would by chance. A flip or "
        "turn reached the input and not its targets")
    if consistent:
        observation += f"; one transform for nearly every sample could be the task, but {stuck}"
    return [finding("targets-displaced", observation, source, evidence=evidence)]
