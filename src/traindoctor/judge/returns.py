"""A policy-gradient loss whose weights are built from the wrong rewards (measured by measure/returns.py): the
return that multiplies log π(a_t|s_t) must come from the rewards at t and after. Flagged when, on most observed
backward passes, a misordered construction (a past sum, the returns reversed, shifted or otherwise rearranged)
explains the weights well and the reward-to-go clearly worse; or when the weights are made of per-step values
each of which already existed when its own step's action was drawn, and was gone by the next draw: a reward
stored beside an action it did not follow; or when a value regression's target is, sample by sample, a reward
plus a discount times the very prediction it trains: a TD target bootstrapped from the state the transition
starts in, not the next."""

from __future__ import annotations

from dataclasses import replace

from ..measure.recorder import Recorder
from ..measure.returns import FAMILIES, Early, Observation
from ..vocabulary import catalog
from ..vocabulary.finding import Finding, finding
from .common import where
from .thresholds import (RETURNS_EARLY, RETURNS_FIT, RETURNS_MARGIN, RETURNS_OBSERVATIONS, RETURNS_SHARE,
                         RETURNS_TOLD)

_SAID = {"past": "sums of the rewards BEFORE each step (accumulated forward in time)",
         "reversed": "the reward-to-go reversed in time (step t gets the return of step T-1-t)",
         "shifted": ("the reward-to-go shifted by one step (step t gets the return of step t+1, the last step "
                     "the first's)"),
         "permuted": ("the reward-to-go's own values at other steps (the log-probabilities are stacked in the "
                      "order the steps were played, the returns in another)")}


def check(rec: Recorder) -> list[Finding]:
    seen = rec.returns.observations
    wrong = [o for o in seen if _misordered(o)]
    if len(wrong) < max(RETURNS_OBSERVATIONS, RETURNS_SHARE * len(seen)):
        return _stored_early(rec) or _own_state(rec)
    first = wrong[0]
    family = max(FAMILIES[1:], key=lambda f: sum(_best(o) == f for o in wrong))
    fit, gamma = first.fits[family]
    right, right_gamma = first.fits["future"]
    layout = (f"{first.steps} steps" if first.columns == 1
              else f"{first.steps} steps × {first.columns} episodes side by side")
    observation = (
        f"the weights multiplying the log-probabilities in the policy-gradient loss are {_SAID[family]}: on "
        f"{len(wrong)} of the {len(seen)} backward passes observed they are explained by that construction "
        f"of `{first.name}` ({layout}){_drawn(first)} and not by the reward-to-go; first at step {first.step}{where(first.__dict__)}, "
        f"R² {fit:.2f} (γ={gamma:g}) against {max(right, 0):.2f} for the reward-to-go (best γ={right_gamma:g})")
    evidence = {"observed": len(seen), "misordered": len(wrong), "construction": family, "rewards": first.name,
                "buffer": first.source or None,
                "fits": [{"step": o.step, "rewards": o.name, "steps": o.steps, "columns": o.columns,
                          **{f: round(v[0], 3) for f, v in o.fits.items()}} for o in wrong[:3]]}
    hypotheses = [replace(h) for h in catalog.get("returns-misordered").hypotheses]
    if family != "past":  # the weights are returns, at the wrong steps: reversed, or written one index off
        hypotheses[:2] = hypotheses[1::-1]
    hypotheses = hypotheses[:-2]  # the last two: a bootstrap from the same state, a reward stored early
    return [finding("returns-misordered", observation, rec.source, evidence=evidence, hypotheses=hypotheses,
                    location={k: first.location.get(k) for k in ("file", "line")} | {"step": first.step})]


def _stored_early(rec: Recorder) -> list[Finding]:
    seen = rec.returns.early
    early = [o for o in seen if _early(o)]
    if len(early) < max(RETURNS_OBSERVATIONS, RETURNS_SHARE * len(seen)):
        return []
    first = early[0]
    observation = (
        f"the weights multiplying the log-probabilities in the policy-gradient loss are made of `{first.name}` "
        f"(R² {first.fit:.2f}), whose value at each step already existed when that step's action was drawn: on "
        f"{len(early)} of the {len(seen)} backward passes observed, {first.early} of {first.rows} steps' values "
        f"were held by the script's variables at their own action's draw and {first.late} at the next draw "
        f"(first at step {first.step}{where(first.__dict__)}) — each action is credited with the reward of the "
        f"step before it, which it cannot have caused")
    evidence = {"observed": len(seen), "early": len(early), "rewards": first.name,
                "rows": [{"step": o.step, "steps": o.rows, "existed_at_own_draw": o.early,
                          "existed_at_next_draw": o.late, "fit": round(o.fit, 3)} for o in early[:3]]}
    hypotheses = list(catalog.get("returns-misordered").hypotheses)
    hypotheses = hypotheses[-1:] + hypotheses[:-2]
    return [finding("returns-misordered", observation, rec.source, evidence=evidence, hypotheses=hypotheses,
                    location={k: first.location.get(k) for k in ("file", "line")} | {"step": first.step})]


def _own_state(rec: Recorder) -> list[Finding]:
    own = rec.returns.own
    if len(own) < max(RETURNS_OBSERVATIONS, RETURNS_SHARE * rec.returns.regressions):
        return []
    first = own[0]
    observation = (
        f"the target of the value regression is `{first.name}` + {first.gamma:g} × the regression's own "
        f"prediction, to float precision on all {first.samples} non-terminal samples (on {len(own)} of the "
        f"{rec.returns.regressions} regressions checked; first at step {first.step}{where(first.__dict__)}): the TD "
        f"target bootstraps from the value of the state each transition starts in, not of the state it leads "
        f"to, so the advantage is r − (1−γ)·V(s) and no action is credited with where it leads")
    evidence = {"checked": rec.returns.regressions, "own": len(own), "rewards": first.name,
                "gamma": first.gamma, "samples": [o.samples for o in own[:3]]}
    hypotheses = list(catalog.get("returns-misordered").hypotheses)
    hypotheses = hypotheses[-2:-1] + hypotheses[:-2]
    return [finding("returns-misordered", observation, rec.source, evidence=evidence, hypotheses=hypotheses,
                    location={k: first.location.get(k) for k in ("file", "line")} | {"step": first.step})]


def _early(o: Early) -> bool:
    """Nearly every step's value existed at its own draw and almost none at the next, and the weights are
    mostly made of them."""
    return (o.rows >= RETURNS_TOLD and o.early >= RETURNS_EARLY * o.rows
            and o.late <= (1 - RETURNS_EARLY) * o.rows and o.fit >= RETURNS_FIT)


def _drawn(o: Observation) -> str:
    return f", read in `{o.source}`, the buffer the loss's minibatches of weights are drawn from," if o.source else ""


def _best(o: Observation) -> str:
    return max(FAMILIES, key=lambda f: o.fits[f][0])


def _misordered(o: Observation) -> bool:
    """A misordered construction explains the weights well, the reward-to-go clearly worse."""
    wrong = max(o.fits[f][0] for f in FAMILIES[1:])
    return wrong >= RETURNS_FIT and o.fits["future"][0] <= wrong - RETURNS_MARGIN
