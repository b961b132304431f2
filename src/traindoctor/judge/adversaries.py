"""Two models in a game whose losses pull the same way (measure/adversaries.py measures the pulls).

In an adversarial game, the discriminator's loss on generated samples and the generator's loss both
depend on D's score of those samples, and they pull it in opposite directions: D wants generated
samples scored as fake, G wants them scored as real. When both losses push the score the same way, the
generator helps the discriminator (a generator trained on the "fake" target, a WGAN generator loss with
the wrong sign) — or the discriminator helps the generator — and nothing is learned about the data.
"""

from __future__ import annotations

from ..measure.adversaries import Pull
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
    return out


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
