"""Two models in a game whose losses pull the same way (measure/adversaries.py measures the pulls).

In an adversarial game, the discriminator's loss on generated samples and the generator's loss both
depend on D's score of those samples, and they pull it in opposite directions: D wants generated
samples scored as fake, G wants them scored as real. When both losses push the score the same way, the
generator helps the discriminator (a generator trained on the "fake" target, a WGAN generator loss with
the wrong sign) — or the discriminator helps the generator — and nothing is learned about the data.

Each player must also be moved by its own loss alone. A step that applies one loss's gradient to both players
(game-shared-optimizer: one optimizer holding both, or both players' optimizers stepped on one backward) trains
one of them toward its opponent's objective: the generator's loss makes D score fakes as real, or D's loss
makes G's fakes easier to reject. The same holds for an actor and a critic (DDPG, SAC): the critic fits
returns on replayed actions, and the actor's -Q, which pushes the critic's score of the actor's actions up on
every sample, must move the actor only — applied to the critic it inflates Q instead of estimating it. And an
optimizer that holds the discriminator alone must not step on the generator's loss (the players' optimizers
swapped): a push on D's score of fakes the way D's own loss pulls real data trains D to score fakes as real.
"""

from __future__ import annotations

from ..measure.adversaries import Pull, Shared
from ..measure.recorder import Recorder
from ..vocabulary.finding import Finding, finding
from ..vocabulary.numbers import fmt
from .common import where
from .thresholds import GAME_AGREEMENT, GAME_MIN_PULLS


def check(rec: Recorder) -> list[Finding]:
    out: list[Finding] = []
    names = {k: type(i.module).__name__ for k, i in rec.roots.items()}
    for d, g in sorted(rec.adversaries.pairs):
        pulls = [p for p in rec.adversaries.pulls if p.pair == (d, g) and p.pull != 0]
        # D's side counts only losses that also score other data (real samples): a discriminator's. A head trained
        # on an encoder's output alone, with the encoder trained through it, cooperates by design.
        by_role = {"discriminator": [p for p in pulls if p.role == "discriminator" and p.with_data],
                   "generator": [p for p in pulls if p.role == "generator"]}
        signs = {role: _prevailing(ps) for role, ps in by_role.items()}
        if None in signs.values() or signs["discriminator"] != signs["generator"]:
            continue
        out.append(_finding(rec, names.get(d, "?"), names.get(g, "?"), by_role, signs["generator"]))
    for d, g in sorted(rec.adversaries.pairs):
        shared = [s for s in rec.adversaries.shared if s.pair == (d, g)]
        pulls = [p for p in rec.adversaries.pulls if p.pair == (d, g)]
        # A game: two objectives pull D's score of G's samples opposite ways, or D fits other inputs (real data,
        # replayed actions) while a term of G's pushes its score of G's samples one way at (nearly) every shared
        # step (a critic's -Q). A fit's errors may share one sign until it fits; an objective's push persists.
        pushes = sum(s.pushes for s in shared)
        if d not in rec.adversaries.scoring:
            continue
        if (len(shared) >= GAME_MIN_PULLS and _both_ways(pulls) or
                pushes >= max(GAME_MIN_PULLS, GAME_AGREEMENT * len(shared))):
            out.append(_shared(rec, names.get(d, "?"), names.get(g, "?"), shared))
        elif opponents := _opponents(rec, d, g):
            out.append(_shared(rec, names.get(d, "?"), names.get(g, "?"), opponents))
    return out


def _opponents(rec: Recorder, d: int, g: int) -> list[Shared]:
    """The steps of optimizers holding none of G's parameters that applied the generator's loss to D: a push on
    D's score of G's samples the way D's own loss pulls its score of real data (fakes scored as real). D's own
    loss on attached samples pulls them the other way. Counted when they are nearly all such steps."""
    own = _prevailing_sign(rec.adversaries.data_signs.get(d, []))
    alone = [s for s in rec.adversaries.alone if s.pair == (d, g)]
    theirs = [s for s in alone if own and s.pushes and all((p > 0) - (p < 0) == own for p in s.pulls)]
    return theirs if len(theirs) >= max(GAME_MIN_PULLS, GAME_AGREEMENT * len(alone)) else []


def in_game(rec: Recorder) -> bool:
    """Whether two models play a game: a discriminator that also scores real data, and losses that pull its
    score of the generator's samples both ways. A player's loss then measures the balance of the game, not
    learning: it need not fall."""
    return any(d in rec.adversaries.scoring and _both_ways([p for p in rec.adversaries.pulls if p.pair == (d, g)])
               for d, g in rec.adversaries.pairs)


def _both_ways(pulls: list[Pull]) -> bool:
    """Losses pull D's score of G's samples both ways: two objectives. With D trained on real data too, they
    are two players'. An encoder and a head trained through it (one objective), or a gradient-reversal layer
    (one loss, reversed for the first model), pull one way. Only pulls that move (nearly) all of G's samples one
    way count: a player's objective; a fit to per-sample labels pulls some samples up and others down, and its
    average takes either sign from batch to batch."""
    pushes = [p for p in pulls if p.share >= GAME_AGREEMENT]
    return min(sum(p.pull > 0 for p in pushes), sum(p.pull < 0 for p in pushes)) >= GAME_MIN_PULLS


def _whose(s: Shared) -> str:
    """Which player's objective one shared step applied to the other's parameters."""
    if not s.moved["generator"]:
        return "the generator's loss moved the discriminator, by an optimizer that holds none of the generator"
    if any(p > 0 for p in s.pulls) and any(p < 0 for p in s.pulls):
        return "both players' losses summed into one backward"
    return ("the discriminator's loss (it also scores real data) moved the generator" if s.with_data and not s.pushes
            else "the generator's loss moved the discriminator")


def _shared(rec: Recorder, d: str, g: str, shared: list[Shared]) -> Finding:
    kinds: dict[str, list[Shared]] = {}
    for s in shared:
        kinds.setdefault(_whose(s), []).append(s)
    first = shared[0]
    evidence = {
        "discriminator": d, "generator": g, "optimizer": first.optimizer,
        "steps": [{"step": s.step, "applied": _whose(s), "d_loss_d_score": s.pulls,
                   "tensors_with_gradient": s.moved} for s in shared[:20]],
        "location": first.location,
    }
    if not first.moved["generator"]:
        return finding(
            "game-shared-optimizer",
            f"the optimizer {first.optimizer} holds the discriminator's ({d}) parameters and none of the "
            f"generator's ({g}), and steps on the generator's loss: at {len(shared)} measured steps that loss pushed "
            f"the discriminator's score of generated samples the way the discriminator's own loss pulls its score of "
            f"real data, and the step applied its gradient through that score to {first.moved['discriminator']} of "
            f"the discriminator's tensors — the discriminator is trained to score fakes as real{where(evidence)}",
            rec.source, evidence=evidence, location={**first.location, "step": first.step})
    how = "; ".join(f"{kind} at {len(ss)}" for kind, ss in kinds.items())
    who = (f"one optimizer ({first.optimizer}) steps" if " + " not in first.optimizer else
           f"the optimizers {first.optimizer}, stepped on the same backward(), step")
    return finding(
        "game-shared-optimizer",
        f"{who} both the generator ({g}) and the discriminator ({d}): at {len(shared)} measured steps the loss "
        f"reached the discriminator's score of generated samples and the step applied its gradient through that "
        f"score to both players' parameters ({first.moved['discriminator']} of the "
        f"discriminator's tensors, {first.moved['generator']} of the generator's) — {how}{where(evidence)}",
        rec.source, evidence=evidence, location={**first.location, "step": first.step})


def _prevailing_sign(signs: list[int]) -> int:
    """The sign (1, -1) that nearly all of these share, if they are enough; else 0."""
    for sign in (1, -1):
        if len(signs) >= GAME_MIN_PULLS and signs.count(sign) >= GAME_AGREEMENT * len(signs):
            return sign
    return 0


def _prevailing(pulls: list[Pull]) -> int | None:
    """The sign most of these pulls share, if they are enough and most of them share it."""
    if len(pulls) < GAME_MIN_PULLS:
        return None
    up = sum(p.pull > 0 for p in pulls)
    if up >= GAME_AGREEMENT * len(pulls):
        return 1
    if len(pulls) - up >= GAME_AGREEMENT * len(pulls):
        return -1
    return None


def _finding(rec: Recorder, d: str, g: str, by_role: dict[str, list[Pull]], sign: int) -> Finding:
    way = "lower" if sign > 0 else "higher"  # a positive gradient: descending lowers the score
    gen, dis = by_role["generator"], by_role["discriminator"]
    location = gen[-1].location
    evidence = {
        "discriminator": d, "generator": g,
        "generator_pulls": [{"step": p.step, "d_loss_d_score": p.pull} for p in gen[:20]],
        "discriminator_pulls": [{"step": p.step, "d_loss_d_score": p.pull} for p in dis[:20]],
        "location": location,
    }
    return finding(
        "gan-target-flipped",
        f"the generator ({g}) feeds the discriminator ({d}), and both players' losses push the discriminator's "
        f"score of generated samples {way}: "
        f"d(loss)/d(score) has the sign {'+' if sign > 0 else '-'} at {_share(gen, sign)} of the generator's "
        f"measured steps (median {fmt(_median(gen))}) and {_share(dis, sign)} of the discriminator's (median "
        f"{fmt(_median(dis))}) — the players cooperate instead of competing{where(evidence)}",
        rec.source, evidence=evidence, location={**location, "step": gen[-1].step})


def _share(pulls: list[Pull], sign: int) -> str:
    return f"{sum((p.pull > 0) == (sign > 0) for p in pulls)}/{len(pulls)}"


def _median(pulls: list[Pull]) -> float:
    return sorted(p.pull for p in pulls)[len(pulls) // 2]
