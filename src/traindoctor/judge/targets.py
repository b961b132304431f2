"""Value-based RL targets: a target network must follow the network it stands for (target-network-stale),
and a TD target bootstraps only from non-terminal next states (terminal-bootstrap). What the run measured
is in measure/twins.py and measure/bootstrap.py; `unchecked` says what a run cut short could not tell."""

from __future__ import annotations

from typing import Any

import torch

from ..vocabulary.finding import Finding, finding
from ..measure.bootstrap import Observation
from ..measure.recorder import Recorder
from ..measure.twins import Watch
from .thresholds import MIN_STEPS, MOST_STEPS


def check(rec: Recorder) -> list[Finding]:
    return [*_stale_targets(rec), *_terminal_bootstrap(rec)]


def unchecked(rec: Recorder) -> list[str]:
    """Targets the run could not judge: a stale-looking target network in a run stopped by its budget (a sync
    period longer than the run looks the same), a bootstrap through flags one of which may be a time limit."""
    out = []
    for w, model, twin in _targets(rec):
        if _stale_for_run(rec, w) and not _proof(rec, w):
            out.append(f"a `{model}` run only without gradients{_at(w)} builds the targets of the trained `{twin}`'s "
                       f"loss and is a copy of it, but its parameters did not change in the {rec.n_steps} steps "
                       "observed while the trained one's moved: a target network synced less "
                       "often than that looks the same — run to the end (--max-steps 0) to tell whether it is ever synced")
    verdict = _bootstrap_verdict(rec.bootstrap.observations)
    if verdict and verdict[0] == "undecided":
        out.append(f"the TD target bootstrapped from the next state on every sample, also where `{verdict[1]}` was set, "
                   f"while `{verdict[2]}` was never set: if `{verdict[1]}` marks time limits and `{verdict[2]}` terminal "
                   "states, that is right — it could not be told which")
    return out


# ── target-network-stale ─────────────────────────────────────────────────────

def _targets(rec: Recorder) -> list[tuple[Watch, str, str]]:
    """No-grad copies of a trained model whose outputs built its loss target (on sampled steps), served its
    loss on inputs other than its own (a target on next states; a teacher on the same batch is no bootstrap),
    and never changed while it moved."""
    out = []
    for key, w in rec.twins.watches.items():
        info, twin = rec.roots.get(key), rec.roots.get(w.twin) if w.twin is not None else None
        if info is None or twin is None or info.grad_calls or twin.grad_calls < MIN_STEPS:
            continue
        served = w.served >= MIN_STEPS and w.served >= MOST_STEPS * w.calls
        bootstraps = w.served - w.same_inputs >= MOST_STEPS * w.served
        # its outputs went into a loss target (a contrastive key enters the loss's input: no target)
        builds = rec.bootstrap.fed.get(key, 0) > 0
        if served and bootstraps and builds and not w.changed and w.moved:
            out.append((w, type(info.module).__name__, type(twin.module).__name__))
    return out


def _at(w: Watch) -> str:
    line = w.location.get("line")
    return f" (first called at line {line})" if line is not None else ""


def _stale_for_run(rec: Recorder, w: Watch) -> bool:
    """It served targets over most of the run, to its end: the live target, not one replaced by a fresh copy."""
    return w.last_step - w.first_step + 1 >= MOST_STEPS * rec.n_steps and w.last_step >= rec.n_steps - 1 - MIN_STEPS


def _proof(rec: Recorder, w: Watch) -> str | None:
    """Why the run proves the target does not follow, or None: a sync that ran and copied nothing new, a sync
    that copied the target into its twin, or a whole run without any."""
    if w.returned:
        return (f"its twin, having moved away, came back to the target's values {w.returned} time(s) (first at step "
                f"{w.returned_at}): the sync copies the target into the trained network, not the other way")
    if w.rewritten:
        return (f"its parameters were written in place {w.rewritten} time(s) while its twin had moved (first seen at "
                f"step {w.rewritten_at}), and kept their values: the sync copies something that is not the trained "
                "network's current state (a dict saved earlier, a soft update with tau = 0)")
    if rec.stop_reason == "completed" and _stale_for_run(rec, w):
        return (f"the script ran to its end ({rec.n_steps} optimizer steps) and the target never changed: every TD "
                "target of the run came from the network as it was copied")
    return None


def _stale_targets(rec: Recorder) -> list[Finding]:
    out = []
    for w, model, twin in _targets(rec):
        proof = _proof(rec, w)
        if proof is None:
            continue
        out.append(finding(
            "target-network-stale",
            f"a `{model}` run only without gradients{_at(w)} builds the targets of the trained `{twin}`'s loss "
            f"({w.served} of its {w.calls} calls, on other inputs than the trained one's) and is a copy of it, yet "
            f"its parameters never changed while the trained one's moved; {proof}",
            rec.source, evidence={"calls": w.calls, "served": w.served, "returned": w.returned,
                                  "rewritten": w.rewritten, "steps": rec.n_steps, "stopped": rec.stop_reason},
            location={**w.location, "module": model}))
    return out


# ── terminal-bootstrap ───────────────────────────────────────────────────────

def _fired(o: Observation) -> dict[str, torch.Tensor]:
    """The flags set on some samples of this batch."""
    return {k: f for k, f in o.flags.items() if bool(f.any())}


def _bootstrap_verdict(observations: list[Observation]) -> tuple[Any, ...] | None:
    """("masked",) when a flag stops the bootstrap; ("inverted", flag, n) when the target bootstraps exactly
    where a flag set on a minority of samples says; ("ignored", flag, n) when it bootstraps everywhere while a
    flag that is not the reward's support was set; ("undecided", fired, silent) when another flag never fired
    (it may be the terminal one, and the fired one a time limit); None when nothing tells."""
    rewarded = any(bool(o.reward.any()) for o in observations)
    if len(observations) < MIN_STEPS or not rewarded:  # no reward part: a teacher's output, not a TD target
        return None
    kept: dict[str, int] = {}
    ones: dict[str, list[int]] = {}
    for o in observations:
        for k, f in _fired(o).items():
            if bool((o.boot == ~f).all()):
                return ("masked",)
            if bool((o.boot == f).all()) and not bool(f.all()):
                kept[k] = kept.get(k, 0) + 1
            share = ones.setdefault(k, [0, 0])
            share[0], share[1] = share[0] + int(f.sum()), share[1] + len(f)
    for k, n in kept.items():
        if ones[k][0] >= MOST_STEPS * ones[k][1]:
            return ("masked",)  # bootstraps where the flag is set on most samples: a not-done mask
    for k, n in kept.items():
        if n >= MIN_STEPS and n == sum(k in _fired(o) for o in observations):
            return ("inverted", k, n)
    if not all(bool(o.boot.all()) for o in observations):
        return None
    ignored: dict[str, int] = {}
    for o in observations:
        for k, f in _fired(o).items():
            if not bool((f == o.reward).all()):  # a flag that is where the rewards are may be the reward itself
                ignored[k] = ignored.get(k, 0) + 1
    if not ignored or max(ignored.values()) < MIN_STEPS:
        return None
    flag = max(ignored, key=ignored.get)
    silent = [k for k in {k for o in observations for k in o.flags} if not any(k in _fired(o) for o in observations)]
    if silent:
        return ("undecided", flag, silent[0])
    return ("ignored", flag, ignored[flag])


def _terminal_bootstrap(rec: Recorder) -> list[Finding]:
    observations = rec.bootstrap.observations
    verdict = _bootstrap_verdict(observations)
    if verdict is None or verdict[0] not in ("inverted", "ignored"):
        return []
    kind, flag, n = verdict
    first = next(o for o in observations if flag in _fired(o))
    if kind == "inverted":
        how = (f"on {n} sampled batches it bootstrapped from the next state exactly on the samples where `{flag}` is "
               "set, a minority, and on no other: the mask is inverted, so terminal transitions bootstrap and the "
               "others do not")
    else:
        how = (f"on {n} sampled batches it bootstrapped from the next state on every sample, also where the batch's "
               f"0/1 flag `{flag}` is set: the flag never stops the bootstrap (it may multiply the reward instead)")
    return [finding(
        "terminal-bootstrap",
        f"a loss target takes a part from a model's output under no_grad (a TD target's γ·Q(s')) — {how}",
        rec.source, evidence={"kind": kind, "flag": flag, "batches": n, "probed_batches": len(observations),
                              "samples": len(first.boot), "flag_set": int(first.flags[flag].sum())},
        location={**first.location, "step": first.step})]
