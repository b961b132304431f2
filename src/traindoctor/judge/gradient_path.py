"""What the gradient-path experiments (diagnosis/gradient_path.py) show: whether the loss falls along its
negative gradient, and whether the parameters with no gradient affect the loss — each an observation with
the hypotheses it keeps and kills, and the findings they confirm.

  the gradient is not the loss's own      a small step along it does not lower the loss
  the path from some weights is cut       their gradient is exactly zero, yet moving them moves the loss
  some weights take no part in the loss   their gradient is exactly zero and moving them moves nothing
  the path to one term is cut             that term sends some weights exactly zero gradient, a layer of the
                                          term reads what they computed past a cut, and moving them moves it
"""

from __future__ import annotations

from typing import Any

from ..vocabulary.finding import Finding, finding
from ..vocabulary.hypothesis import Hypothesis
from ..vocabulary.numbers import fmt
from .loop import FED_BACK
from .thresholds import DESCENT_AGREES, LOSS_DEPENDS

WRONG = "the gradient is not the loss's own (a custom backward, a hook that rewrites it)"
CUT = "the path from some of the weights to the loss is cut (.detach(), .data, torch.no_grad(), a rounding)"
TERM_CUT = "the path from some of the weights to one term of the loss is cut before a layer of that term"
TERM_HYPOTHESES = [
    Hypothesis("a .detach(), .data or torch.no_grad() between the shared layers and this term's head cuts the term "
               "off from them", "torch.autograd.grad(term, [the named parameters], allow_unused=True) gives None or "
               "zeros; without the named call it does not"),
    Hypothesis("the head is meant to read frozen features (a linear probe trained online beside another objective)",
               "if so, this term learns only through its head, as intended", kind="null")]
UNUSED = "some of the weights take no part in this loss (unused, or behind units that are dead on this batch)"


def depends(change: float, loss: float, noise: float) -> bool:
    """A change of the loss that is the parameters' doing, not float rounding."""
    return change > max(LOSS_DEPENDS * abs(loss), 10 * noise, 1e-12)


def judge(measured: dict[str, Any], source: str, severity: str) -> tuple[list[Finding], list[dict[str, Any]]]:
    """`severity` of a confirmed cut: an error when the loss does not learn, else a warning."""
    found: list[Finding] = []
    observations = []
    if "descent" in measured:
        found += _descent(measured, source, observations)
    if measured["zero_gradient"]:
        found += _cut(measured, source, severity, observations)
    for f in found:
        f.evidence["confirmed_by"] = "experiment"
    return found, observations


def _descent(m: dict[str, Any], source: str, observations: list[dict[str, Any]]) -> list[Finding]:
    rows = m["descent"]
    measurable = [r for r in rows if r["predicted"] > 10 * m["repeat_noise"]]
    agrees = any(r["fall"] >= DESCENT_AGREES * r["predicted"] for r in measurable)
    wrong = bool(measurable) and all(r["fall"] <= 0 for r in measurable)
    observations.append({
        "name": "descent-step",
        "question": "Does the loss fall along its negative gradient, by about what the gradient predicts?",
        "measured": {"loss": m["loss"], "steps": rows},
        "outcome": "; ".join(f"a step of {fmt(r['step'] * 100)}% of the weights' norm: down {fmt(r['fall'])}, "
                             f"predicted {fmt(r['predicted'])}" for r in rows),
        "keeps": [WRONG] if wrong else [], "kills": [WRONG] if agrees else []})
    if not wrong or not m["custom_functions"]:
        return []
    names = ", ".join(f"`{n}`" for n in m["custom_functions"])
    return [finding(
        "bad-custom-gradient",
        f"the loss does not fall along its negative gradient: steps of {', '.join(fmt(r['step'] * 100) + '%' for r in rows)} "
        f"of the weights' norm change it by {', '.join(fmt(-r['fall']) for r in rows)} where the gradient predicts "
        f"a fall of {', '.join(fmt(r['predicted']) for r in rows)}; the gradient runs through the custom autograd "
        f"Function {names}, whose backward is not the derivative of its forward", source, severity="error",
        evidence={"descent": rows, "custom_functions": m["custom_functions"]})]


def _cut(m: dict[str, Any], source: str, severity: str, observations: list[dict[str, Any]]) -> list[Finding]:
    dependence = m["dependence"]
    cut = {n: d for n, d in dependence.items() if depends(d["change"], m["loss"], m["repeat_noise"])}
    unused = [n for n in dependence if n not in cut]
    zero = m["zero_gradient"]
    observations.append({
        "name": "zero-gradient-path",
        "question": f"{len(zero)} of {m['parameters']} parameter tensors the optimizer updates get no gradient "
                    "while the loss is not zero: does moving them move the loss?",
        "measured": {"loss": m["loss"], "dependence": dependence, "cuts": m.get("cuts", [])},
        "outcome": (f"{len(cut)} move the loss (e.g. `{next(iter(cut))}`: by {fmt(next(iter(cut.values()))['change'])})"
                    if cut else "none moves it") + (f"; {len(unused)} do not" if unused and cut else ""),
        "keeps": ([CUT] if cut else []) + ([UNUSED] if unused else []),
        "kills": ([] if cut else [CUT]) + ([] if unused else [UNUSED])})
    stops = m.get("cuts", [])
    # Named only with the call where the gradient stops: without one, units dead at this point (a ReLU's
    # flat side) are the likelier reading of a zero gradient the loss still depends on.
    if not cut or not stops:
        return []
    name, d = next(iter(cut.items()))
    where = (f"; their path to the loss stops at {_call(stops[0])}"
             + (f" (also: {', '.join(_call(c) for c in stops[1:3])})" if len(stops) > 1 else ""))
    return [finding(
        "graph-break",
        f"{len(cut)} of {m['parameters']} parameter tensors the optimizer updates get exactly zero gradient, yet the "
        f"loss depends on them: moving `{name}` by {fmt(d['step'] * 100)}% of its norm moves the loss by "
        f"{fmt(d['change'])} (of {fmt(m['loss'])}){where} — this loss can never train them", source, severity=severity,
        evidence={"cut": cut, "cuts": stops, "loss": m["loss"], "parameters": m["parameters"]},
        location={k: stops[0][k] for k in ("file", "line") if k in stops[0]} or {"module": name})]


def _call(c: dict[str, Any]) -> str:
    where = f" ({c['file'].rsplit('/', 1)[-1]}:{c['line']})" if c.get("file") else ""
    return f"`{c['call']}`{where}"


def judge_terms(measured: list[dict[str, Any]], source: str, severity: str,
                known: list[Finding]) -> tuple[list[Finding], list[dict[str, Any]]]:
    """The terms of diagnosis/term_path.py: a finding for each whose value depends on the weights it sends no
    gradient to, unless `known` (the total loss's findings) already names the call where it stops."""
    named = {(c.get("file"), c.get("line")) for f in known if f.code == "graph-break" for c in f.evidence["cuts"]}
    found, observations = [], []
    for m in measured:
        cut = depends(m["change"], m["value"], m["repeat_noise"])
        stop, reader = m["cuts"][0], m["reader"]
        observations.append({
            "name": "term-gradient-path",
            "question": f"the `{m['term']}` term sends no gradient to {len(m['moved'])} of {m['parameters']} parameter "
                        f"tensors whose output, past {_call(stop)}, reaches its layer {_call(reader)}: does moving "
                        "them move the term?",
            "measured": m,
            "outcome": f"moving them by {fmt(m['step'] * 100)}% of their norm moves it by {fmt(m['change'])} "
                       f"(of {fmt(m['value'])})",
            "keeps": [TERM_CUT] if cut else [], "kills": [] if cut else [TERM_CUT]})
        if not cut or any((c.get("file"), c.get("line")) in named for c in m["cuts"]):
            continue
        first = m["moved"][0]
        found.append(finding(
            "graph-break",
            f"the `{m['term']}` term of the loss depends on {len(m['moved'])} parameter tensors the optimizer updates "
            f"(`{first}`{', ...' if len(m['moved']) > 1 else ''}) yet sends them exactly zero gradient: its path from "
            f"them stops at {_call(stop)} before its layer {_call(reader)} — moving them by {fmt(m['step'] * 100)}% "
            f"of their norm moves the term by {fmt(m['change'])} (of {fmt(m['value'])}). Only the layers after the "
            "cut learn from this term; the other terms alone shape what feeds them", source, severity=severity,
            evidence={"confirmed_by": "experiment", "term": m["term"], "moved": m["moved"], "cuts": m["cuts"],
                      "reader": reader, "change": m["change"], "value": m["value"]}, hypotheses=TERM_HYPOTHESES,
            next_step="Remove the named cut, so that this term trains the layers before it too; a stop-gradient "
                      "belongs where the cut tensor is a target or a weight of the term, not the input of its layers.",
            location={k: stop[k] for k in ("file", "line") if k in stop} or {"module": first}))
    return found, observations


STATE_CUT = "a module's state is cut between its calls within one step: its weights learn one call deep"


def judge_state(measured: dict[str, Any], source: str, severity: str) -> tuple[list[Finding], dict[str, Any]]:
    """The modules of diagnosis/state_path.py: a finding for each whose every later call reads its earlier call's
    state past a cut (a cut every few calls, the graph kept between, truncates on purpose), when the loss moves
    with that state and the state is not a prediction the loss reads as-is (fed back as the next input)."""
    found, rows = [], []
    for m in measured["modules"]:
        moves = depends(m["change"], measured["loss"], measured["repeat_noise"])
        every = m["fed_calls"] >= 2 and m["cut_calls"] == m["fed_calls"]
        rows.append({**m, "moves_loss": moves})
        if not (moves and every and not m["as_is"]):
            continue
        cut = m["cuts"][0]
        whole = (f"; the rest of its state is passed whole at {m['whole_calls']} of them, which does not carry the "
                 "cut part" if m["whole_calls"] else "")
        found.append(finding(
            "graph-break",
            f"`{m['module']}` ({m['type']}) is called {m['calls']} times in one forward, and each of its "
            f"{m['fed_calls']} later calls reads what its earlier call computed past a cut ({_call(cut)}, through "
            f"its {', '.join(m['places'])}){whole}: moving those {m['cut_values']} values by {fmt(m['step'] * 100)}% "
            f"of their norm moves the loss by {fmt(m['change'])} (of {fmt(measured['loss'])}), yet no gradient "
            "crosses them — its weights learn one call deep, and nothing that spans two calls (anything over time) "
            "can be learned. Detach the state between batches, not between the calls of one step",
            source, severity=severity, hypotheses=FED_BACK,
            evidence={"confirmed_by": "experiment", "module": m["module"], "calls": m["calls"],
                      "cut_calls": m["cut_calls"], "whole_calls": m["whole_calls"], "cuts": m["cuts"],
                      "change": m["change"], "loss": measured["loss"], "step": m["step"]},
            location={k: cut[k] for k in ("file", "line") if k in cut} or {"module": m["module"]}))
    kept = [r["module"] for r in rows if r["moves_loss"]]
    record = {"name": "state-gradient-path",
              "question": "a module called several times in one forward reads its earlier call's state past a cut: "
                          "does the loss depend on that state?",
              "measured": {"loss": measured["loss"], "repeat_noise": measured["repeat_noise"], "modules": rows},
              "outcome": f"moving it moves the loss for {', '.join(f'`{n}`' for n in kept)}" if kept
              else "moving it moves nothing",
              "keeps": [STATE_CUT] if found else [], "kills": [] if found else [STATE_CUT]}
    return found, record
