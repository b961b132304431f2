"""A policy-gradient loss that trains the log-probability of actions the policy did not take (measured by
measure/actions.py): the surrogate −log π(a|s)·A is the policy gradient only for the action drawn in `s`."""

from __future__ import annotations

from ..measure.recorder import Recorder
from ..vocabulary.finding import Finding, finding
from .common import plural, where
from .thresholds import UNTAKEN_ACTION_ROWS, UNTAKEN_ACTION_SHARE


def check(rec: Recorder) -> list[Finding]:
    seen = rec.actions
    if seen.untaken < max(UNTAKEN_ACTION_ROWS, UNTAKEN_ACTION_SHARE * seen.checked):
        return []
    first = seen.evaluations[0]
    observation = (
        f"{seen.untaken} of {seen.checked} log-probabilities the loss trained at states where the policy drew "
        f"its actions are of an action it did not draw there ({100 * seen.untaken / seen.checked:.0f}%); first at "
        f"step {first['step']}{where(first)}, by {first['how']}: in row {first['row']} of "
        f"{plural(first['rows'], 'state')} it evaluates {first['evaluated']}, {_drawn(first)}")
    if seen.redraws:
        observation += (f"; {plural(seen.redraws, 'draw')} of the policy repeated, in one call, states it had "
                        "already acted in: that draw is not the action taken")
    evidence = {"checked": seen.checked, "untaken": seen.untaken, "draws": seen.draws, "redraws": seen.redraws,
                "evaluations": seen.evaluations}
    return [finding("log-prob-of-untaken-action", observation, rec.source, evidence=evidence,
                    location={k: first.get(k) for k in ("file", "line", "step")})]


def _drawn(first: dict) -> str:
    """What the policy drew for that row: by the rollout's order where the rows follow it, else at that state."""
    drawn = " or ".join(map(str, first["drawn"]))
    if first["order"] == "actions":
        return ("an action the policy drew at another state: the rows' actions are its draws in the order drawn, "
                "their states are not the ones those actions were drawn in")
    if first["order"] == "index":
        return (f"where the policy drew {drawn} (the index is the policy's draw of those rows, laid across every "
                "row instead of row by row: each row is read at the actions drawn in other rows)")
    if first["order"] == "states":
        return (f"where the policy drew {drawn} (the rows' states are its draws in the order drawn; that row's draw "
                "took another action)")
    return f"where the policy drew {drawn}"
