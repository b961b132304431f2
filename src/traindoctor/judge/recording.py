"""run's rules over what the Recorder gathered: each group checked apart, so a bug in one does not hide
the others' findings."""

from __future__ import annotations

from ..vocabulary.finding import Finding
from ..measure.recorder import Recorder
from . import (actions, adversaries, alike, carried, columns, dense, depth, loop, loss, modes, norm_batches, numerics,
               points, printed, probes, returns, squashes, targets)


def _batches(rec: Recorder) -> list[Finding]:
    """`traindoctor data`'s column rules on the batches the script fed."""
    if rec.batches.failure:  # said among the rule groups that failed; the others' findings stand
        raise RuntimeError(f"profiling the batches stopped: {rec.batches.failure}")
    return columns.of_batches(rec.batches, rec.source, numerics.why_not_learning(rec))


def _views(rec: Recorder) -> list[Finding]:
    """A view/reshape of the script's own, outside the models, that reorders dimensions: the layout is broken
    before the model sees it (or after, between its output and the loss)."""
    if not rec.view_scrambles:
        return []
    first = rec.view_scrambles[0]
    where = f"in the script, outside the model, before optimizer step {first['step'] + 1}"
    return [probes.layout_scrambled(rec.view_scrambles, where, {"scrambles": rec.view_scrambles}, source=rec.source)]


def analyze(rec: Recorder) -> tuple[list[Finding], list[str]]:
    """Findings, plus a note per rule group that failed (a bug of ours must not hide the others)."""
    found: list[Finding] = []
    failed: list[str] = []
    for name, rules in (("numerics", numerics.check), ("loss", loss.check), ("loop", loop.check),
                        ("carried state", carried.check), ("modes", modes.check), ("batch norm", norm_batches.check),
                        ("adversaries", adversaries.check), ("symmetric units", alike.check), ("batch data", _batches), ("dense targets", dense.check),
                        ("point targets", points.check),
                        ("views", _views), ("printed metrics", printed.check), ("RL targets", targets.check),
                        ("policy actions", actions.check), ("policy returns", returns.check),
                        ("sigmoid and tanh calls", squashes.check), ("gradient depth", depth.check)):
        try:
            found.extend(rules(rec))
        except Exception as exc:
            failed.append(f"{name} rules failed: {type(exc).__name__}: {exc}")
    _born_in_model(found)
    return found, failed


def _born_in_model(found: list[Finding]) -> None:
    """A loss read as falling without bound only because it turned non-finite after going below zero, when the
    non-finite value was born in the model's forward (a function of moderate arguments overflowing, outside the
    loss): the loss did not run to -inf, the model's output made its NaN — the fall rests on a symptom, and the
    non-finite forward explains it (a loss with a negative floor, such as a Poisson NLL without its constant
    term, goes below zero by design)."""
    nan = next((f for f in found if f.code == "nonfinite-forward"), None)
    born = (nan.evidence.get("function") or {}) if nan else {}
    if not born or born.get("in_loss", True):
        return
    if any(f.code == "loss-sign-flipped" and f.evidence.get("at_nonfinite") for f in found):
        nan.evidence["explains"] = [*nan.evidence.get("explains", ()), "loss-sign-flipped"]
