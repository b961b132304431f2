"""Differential diagnosis: experiments on copies of the model as training left it, its loss head on tape
(measure/tape.py), the optimizer's class and settings, and the batches the tapes were recorded on.

Every experiment is an *arm*: the same number of optimizer steps on the same batch from the same state,
changing one factor — the learning rate (x10, x0.1, back to its initial value when a schedule lowered it),
the regularisation (the penalty written into the loss, the optimizer's weight decay, dropout, label
smoothing: diagnosis/knobs.py), nothing (the
baseline). The baseline also answers the oldest question, "can it fit one batch?". Whether the targets
follow the inputs at all is the permutation test's (diagnosis/permutation.py). The numbers are judged in
judge/experiments.py. Budgets are in steps, never seconds; the arms draw the same random numbers.
"""

from __future__ import annotations

import math
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Protocol

import torch
from torch import nn
from torch.utils._pytree import tree_leaves

from ..judge import experiments as rules
from ..judge import gradient_path as path_rules
from ..judge.steps.base import second_moment
from ..judge.thresholds import EXPERIMENT_STEPS
from ..measure.copies import independent_copy, set_mode
from ..measure.recorder import internal_calls
from ..measure.tape import Tape, cloned_batch
from ..vocabulary.finding import Finding
from . import gradient_path, knobs, permutation, term_path
from .guard import guarded
from .sandbox import isolated, same_noise
from .tree import Call, call

SEED = 0


class CannotExperiment(Exception):
    """The material does not allow the experiments; the message says why, in one line."""


class LossHead(Protocol):
    """A batch and how the loss is computed from the model's output on it: run's Tape, checkup's loss_fn."""
    batch: tuple[tuple, dict]  # the model call's (args, kwargs)
    penalized: bool  # holds a term computed from the weights alone
    partial: bool  # other calls of the model feed the loss as constants: not the whole loss of the batch

    def loss_of(self, output: Any, params: dict[str, torch.Tensor] | None = None, *,
                data_only: bool = False) -> torch.Tensor: ...


@dataclass
class Material:
    """What the recorded run (or a checkup) leaves for the experiments."""
    model: nn.Module  # as training left it: only copies are trained
    tapes: list[LossHead]  # the latest last; all are left out in turn by the permutation test
    optimizer: torch.optim.Optimizer | None
    initial: dict[str, torch.Tensor] | None = None  # the model's state before its first update
    # The targets are made by a model in each step (a TD target's bootstrap): no data whose pairing with the
    # inputs a permutation test could question.
    made_targets: bool = False
    # The ids of parameters the optimizer holds that the script updates itself (an EMA teacher): not trained
    # by gradient on purpose, so not among the weights the experiments train or ask a gradient of.
    by_hand: frozenset[int] = frozenset()
    # The recorded run's (learning rate of the first group, loss) per recorded step, in order: the rate the
    # run worked at and when a schedule lowered it. Empty for a checkup.
    rates: list[tuple[float, float | None]] = field(default_factory=list)
    # The codes of the errors found before the experiments (conclusive findings): a test whose question one of
    # them already answers is not run (rules.pairing_settled).
    settled: tuple[str, ...] = ()


@dataclass
class FunctionLoss:
    """checkup's loss_fn(output, targets) with its one batch, as a LossHead."""
    batch: tuple[tuple, dict]
    targets: Any
    loss_fn: Callable[[Any, Any], torch.Tensor]
    penalized: bool = False
    partial: bool = False

    def loss_of(self, output: Any, params: dict[str, torch.Tensor] | None = None, *,
                data_only: bool = False) -> torch.Tensor:
        return self.loss_fn(output, self.targets)


@dataclass
class Arm:
    name: str
    losses: list[float]  # on the training batch, before each step, then after the last
    data: tuple[float, float] | None  # the loss without the weights-only terms, first and last (penalized tapes)
    held_out: dict[str, Any] | None = None  # the loss on other batches: real / shuffled inputs, before / after
    ablated: dict[str, Any] | None = None  # the baseline's: at its start, the inputs moved to other samples
    transfer: tuple[float, float] | None = None  # the other batch's loss before and after the arm's steps


def run(material: Material, reason: str, steps: int = EXPERIMENT_STEPS,
        source: str = "run", arms: bool = True) -> tuple[list[Finding], list[dict[str, Any]]]:
    """The experiments the open hypotheses call for, their observations (each with the hypotheses it keeps
    and kills) and the findings they confirm. Without `arms` (the loss learns, but some parameters got no
    gradient), only the gradient-path experiments: is their path cut, or are they unused?"""
    if not material.tapes:
        raise CannotExperiment("no loss head was recorded from this model's outputs")
    with isolated(), internal_calls(), guarded(material.model):
        groups = _groups(material)
        if not groups:
            raise CannotExperiment("no optimizer steps this model's parameters")
        found, observations, trains = _gradient_path(material, groups, source, "error" if arms else "warning")
        if arms and trains:
            more, observations_ = _run(material, groups, steps, source)
            found, observations = found + more, observations_ + observations
        for o in observations:
            o["why_run"] = reason
        return found, observations


def _gradient_path(m: Material, groups: Groups, source: str,
                   severity: str) -> tuple[list[Finding], list[dict[str, Any]], bool]:
    """One small step along the negative gradient, and the parameters with none (diagnosis/gradient_path.py);
    then the same question of each term of the loss (diagnosis/term_path.py). And whether the loss carries
    gradient at all: if not, no arm can train."""
    tape = m.tapes[-1]
    held = [n for g in groups for n in g["params"]]
    try:
        measured = gradient_path.measure(_fresh(m), lambda out, params: tape.loss_of(out, params), tape.batch, held)
    except RuntimeError as exc:
        # A head that differentiates through a call the tape holds as a constant (a gradient penalty taken
        # with autograd.grad at the input of the model's last call) has no replay on a copy: no arm can run.
        raise CannotExperiment(f"the recorded loss cannot be recomputed on a copy ({exc})") from exc
    found, observations = path_rules.judge(measured, source, severity) if measured is not None else ([], [])
    if isinstance(tape, Tape):  # the terms of a recorded loss; checkup's loss function is one call
        try:
            terms = term_path.measure(_fresh(m), tape, held)
        except Exception as exc:  # a bug of ours, or a head this cannot replay per term: the other experiments stand
            observations.append({"name": "term-gradient-path", "question": "is the path to one term of the loss cut?",
                                 "measured": {}, "outcome": f"failed: {type(exc).__name__}: {exc}",
                                 "keeps": [], "kills": []})
        else:
            more, observations_ = path_rules.judge_terms(terms, source, severity, found)
            found, observations = found + more, observations + observations_
    return found, observations, measured is None or measured["carries_gradient"]


def _run(m: Material, groups: Groups, steps: int, source: str) -> tuple[list[Finding], list[dict[str, Any]]]:
    tape = m.tapes[-1]
    others = _others(m)
    other = others[0] if others else None
    layout = _layout_layers(m.model) if other is not None else {}
    settings = _knobs(m, tape)
    apart = tape.penalized or bool(settings)  # the data term differs from the loss trained on: measured apart
    arms = {"baseline": _arm("baseline", m, tape, groups, steps, held=other if layout else None, apart=apart)}
    base = arms["baseline"]
    base.ablated = _ablated(_fresh(m), tape, cloned_batch(*tape.batch))
    if not all(math.isfinite(v) for v in base.losses[:1]):
        raise CannotExperiment("the recorded loss is not finite on the model training left")
    lr = _lr(groups)
    # The rate a schedule lowered this one from: the rate it is set to (a torch scheduler's initial_lr) or the
    # highest the run recorded (a rate set by hand in the loop).
    peak = max((r for r, _ in m.rates), default=None)
    initial = max((v for v in (_initial_lr(groups), peak) if v is not None), default=None)
    if initial is not None and lr > 0 and initial / lr >= rules.SCHEDULE_DECAY:
        arms["initial-lr"] = _arm("initial-lr", m, tape, _with(groups, lr=lambda g: g["lr"] * initial / lr), steps)
    arms["lr-x10"] = _arm("lr-x10", m, tape, _with(groups, lr=lambda g: g["lr"] * 10), steps)
    divided = _divided(tape) if second_moment(m.optimizer) is False else None
    if divided is not None:  # SGD's step scales with the loss: the rate times the divisor undoes the division
        arms["loss-divided"] = _arm("loss-divided", m, tape, _with(groups, lr=lambda g: g["lr"] * divided["by"]),
                                    steps)
    arms["lr-x0.1"] = _arm("lr-x0.1", m, tape, _with(groups, lr=lambda g: g["lr"] * 0.1), steps)
    decay = max((g.get("weight_decay", 0) or 0 for g in groups), default=0)
    if apart or decay:
        off = _with(groups, weight_decay=lambda g: 0.0)
        arms["regularisation-off"] = _arm("regularisation-off", m, tape, off, steps, data_only=True, apart=apart)
        # Also from the weights training started from, on and off: by the end a dominating regularisation may
        # have done its damage (weights decayed to the saddle at zero, which no number of steps undoes), while
        # from the start its pull shows in the first steps. From the trained weights, a penalty that holds
        # them at an equilibrium away from the data's optimum shows instead.
        if m.initial is not None:
            arms["regularised-from-start"] = _arm("regularised-from-start", m, tape, groups, steps, start=m.initial,
                                                  apart=apart)
            arms["regularisation-off-from-start"] = _arm("regularisation-off-from-start", m, tape, off, steps,
                                                         data_only=True, start=m.initial, apart=apart)
    # The permutation test moves one call's inputs against the targets; with other calls of the model in the
    # loss held as constants (a siamese pair, a penalty's own call) the pairing it tests is not the script's.
    testable = _testable(m, others)
    settled = rules.pairing_settled(m.settled) if testable else None
    if testable and settled is None:
        _, parts = rules.unpaired(permutation.unpaired(_fresh(m), tape))
        base.held_out = _held_out(m, groups, others, steps, parts)
    if layout:
        try:
            arms["other-layout"] = _arm("other-layout", m, tape, groups, steps, held=other, prepare=_other_layout)
        except Exception:  # the batch does not fit the other layout (a hidden state shaped for this one): no arm
            pass
    return rules.judge(arms, {"lr": lr, "initial_lr": initial, "peak_lr": peak, "rates": m.rates or None,
                                      "weight_decay": decay,
                                      "settled": settled, "penalized": tape.penalized, "penalties": _penalties(tape), "divided": divided,
                                      **settings,
                                      "steps": steps, "source": source,
                                      "layout": layout,
                                      "optimizer": type(m.optimizer).__name__ if m.optimizer else None})


def pairing(material: Material, steps: int = EXPERIMENT_STEPS,
            source: str = "run") -> tuple[list[Finding], list[dict[str, Any]]] | None:
    """While the loss learns: does what the model learned use the pairing of inputs and targets? Asked first of
    the model as training left it, as a whole and per target component (rules.unpaired); where it does not —
    the loss fell as the model learned the targets' spread alone — the permutation test (no other arm) tells a
    lost pairing from a relation not yet learned. None when the model's loss uses every pairing, or no test
    can run."""
    m = material
    others = _others(m) if m.tapes else []
    if not _testable(m, others) or rules.pairing_settled(m.settled):
        return None
    with isolated(), internal_calls(), guarded(m.model):
        groups = _groups(m)
        if not groups:
            return None
        whole, parts = rules.unpaired(permutation.unpaired(_fresh(m), m.tapes[-1]))
        if not whole and not parts:
            return None
        held = _held_out(m, groups, others, steps, parts)
        if held is None:
            return None
        return rules.pairing(held, {"steps": steps, "source": source})


def _others(m: Material) -> list[LossHead]:
    """The other batches, latest first (the nearest to where training left the model is the arms' held-out
    batch), one tape a batch."""
    tape = m.tapes[-1]
    earlier = list(reversed(m.tapes[:-1]))
    return [t for i, t in enumerate(earlier) if not _same_batch(t, tape)
            and not any(_same_batch(t, u) for u in earlier[:i])][:rules.HELD_OUT_BATCHES]


def _testable(m: Material, others: list[LossHead]) -> bool:
    """The permutation test moves one call's inputs against the targets; with other calls of the model in the
    loss held as constants (a siamese pair, a penalty's own call) the pairing it tests is not the script's."""
    return (any(not o.partial for o in others) and m.initial is not None and not m.tapes[-1].partial
            and not m.made_targets)


def _held_out(m: Material, groups: Groups, others: list[LossHead], steps: int, parts: list[Any]) -> dict[str, Any] | None:
    return permutation.held_out([m.tapes[-1], *(o for o in others if not o.partial)], lambda: _fresh(m), m.initial,
                                lambda model: _optimizer(m, model, groups), steps, parts)


def _knobs(m: Material, tape: LossHead) -> dict[str, Any]:
    """The regularisers that are settings: the dropout probabilities the model's forward trains with
    (`dropout`), and the (smoothing, classes) of each cross-entropy of the loss that smooths its targets
    (`smoothing`); only those present."""
    model = _fresh(m)
    with torch.no_grad(), same_noise(SEED), knobs.seen() as seen:
        _loss(tape, model, cloned_batch(*tape.batch))
    smoothing = seen.smoothing if isinstance(tape, Tape) else []  # only a tape can replay the loss unsmoothed
    return {k: v for k, v in (("dropout", seen.dropout), ("smoothing", smoothing)) if v}


def _penalties(tape: LossHead) -> list[dict[str, Any]] | None:
    """The penalties of a recorded loss: each term's torch call, weight, and whether it is computed from the
    weights alone, for the observation to name; None when it has none (or the head is a loss function)."""
    found = [{"term": t.name, "weight": t.weight, "weights_only": t.weights_only} for t in tape.penalties()] \
        if isinstance(tape, Tape) else []
    return found or None


def _divided(tape: LossHead) -> dict[str, Any] | None:
    """A recorded loss that is one mean divided again by a constant above LOSS_DIVIDED (`F.mse_loss(out, x) / n`):
    the torch call that took the mean and the divisor; None for anything else (a sum divided by its count is
    the mean done by hand, several terms are weighted, not divided)."""
    if not isinstance(tape, Tape):
        return None
    terms = [t for t in tape.terms() if not t.weights_only]
    if len(terms) != 1 or not 0 < terms[0].weight < 1 / rules.LOSS_DIVIDED or tape.reduction(terms[0].slot) != "mean":
        return None
    return {"term": terms[0].name, "by": 1 / terms[0].weight}


# ── the optimizer's groups, on a copy ─────────────────────────────────────────

Groups = list[dict[str, Any]]  # the optimizer's param groups with parameter *names* of the model


def _groups(m: Material) -> Groups:
    if m.optimizer is None:
        return []
    names = {id(p): n for n, p in m.model.named_parameters()}
    out = []
    for g in m.optimizer.param_groups:
        params = [names[id(p)] for p in g["params"] if id(p) in names and p.requires_grad and id(p) not in m.by_hand]
        if params:
            out.append({**{k: v for k, v in g.items() if k != "params"}, "params": params})
    return out


def _with(groups: Groups, **change: Callable[[dict[str, Any]], Any]) -> Groups:
    return [{**g, **{k: fn(g) for k, fn in change.items()}} for g in groups]


def _lr(groups: Groups) -> float:
    return float(groups[0]["lr"])


def _initial_lr(groups: Groups) -> float | None:
    """The learning rate a scheduler started from (schedulers keep it in each group as `initial_lr`)."""
    value = groups[0].get("initial_lr")
    return float(value) if value is not None else None


def _optimizer(m: Material, model: nn.Module, groups: Groups) -> torch.optim.Optimizer:
    params = dict(model.named_parameters())
    cls = type(m.optimizer)
    built = [{**{k: v for k, v in g.items() if k not in ("params", "initial_lr")},
              "params": [params[n] for n in g["params"]]} for g in groups]
    return cls(built)


# ── one arm ───────────────────────────────────────────────────────────────────

def _loss(tape: LossHead, model: nn.Module, batch: tuple[tuple, dict], data_only: bool = False) -> torch.Tensor:
    """`data_only`: the regularisation off — the penalties of the loss, its smoothing, the forward's dropout."""
    with knobs.off() if data_only else nullcontext():
        output = call(model, Call(batch))
    return tape.loss_of(output, dict(model.named_parameters()), data_only=data_only)


def _fresh(m: Material) -> nn.Module:
    return set_mode(independent_copy(m.model), True)


def _arm(name: str, m: Material, tape: LossHead, groups: Groups, steps: int, data_only: bool = False,
         held: LossHead | None = None, prepare: Callable[[nn.Module], None] | None = None,
         start: dict[str, torch.Tensor] | None = None, apart: bool = False) -> Arm:
    """`apart`: the data term (the loss with the regularisation off) measured besides the loss; `held`: also
    the loss on that tape's batch before and after the steps (does the fit transfer?); `prepare`: a change made to the copy's modules before the steps (the factor the arm changes); `start`:
    the weights the steps start from (the trained ones by default)."""
    model = _fresh(m)
    if start is not None:
        model.load_state_dict(start)
    if prepare is not None:
        prepare(model)
    before = _transfer_loss(held, model) if held is not None else None
    opt = _optimizer(m, model, groups)
    batch = cloned_batch(*tape.batch)
    losses: list[float] = []
    first_data = None
    with same_noise(SEED), torch.enable_grad():
        for _ in range(steps):
            opt.zero_grad(set_to_none=True)
            loss = _loss(tape, model, batch, data_only)
            value = float(loss.detach())
            losses.append(value)
            if first_data is None and apart:
                first_data = value if data_only else float(_loss(tape, model, batch, data_only=True).detach())
            if not math.isfinite(value):
                break
            loss.backward()
            opt.step()
        else:
            losses.append(float(_loss(tape, model, batch).detach()))
    data = None
    if apart and first_data is not None:
        with torch.no_grad(), same_noise(SEED):
            data = (first_data, float(_loss(tape, model, batch, data_only=True)))
    arm = Arm(name, losses, data)
    if held is not None:
        arm.transfer = (before, _transfer_loss(held, model))
    return arm


def _transfer_loss(held: LossHead, model: nn.Module) -> float:
    with torch.no_grad(), same_noise(SEED):
        return float(_loss(held, model, cloned_batch(*held.batch)))


def _layout_layers(model: nn.Module) -> dict[str, bool]:
    """Recurrent and attention layers, with the `batch_first` each was built with: which dim it reads as time
    (dim 0 when False, their default; dim 1 when True)."""
    return {n: mod.batch_first for n, mod in model.named_modules() if isinstance(mod, (nn.RNNBase, nn.MultiheadAttention))}


def _other_layout(model: nn.Module) -> None:
    """The copy's recurrent and attention layers read the other leading dim as time: the layout a tensor with
    its batch and time dims the other way round needs."""
    for _, mod in model.named_modules():
        if isinstance(mod, (nn.RNNBase, nn.MultiheadAttention)):
            mod.batch_first = not mod.batch_first


def _ablated(model: nn.Module, tape: LossHead, batch: tuple[tuple, dict]) -> dict[str, Any] | None:
    """The inputs ablated: on the model as training left it, each sample's inputs moved to another sample
    (ABLATIONS pairings) — the loss, and how far the model's outputs moved (relative to their size). Outputs,
    not only the loss: a loss near its floor hides outputs that do move. Before any experiment's steps: 50
    steps on one batch can saturate a model (a discriminator's sigmoid at exactly 1.0 on every sample)."""
    pairings = permutation.shuffled(model, batch)
    if pairings is None:
        return None
    with torch.no_grad(), same_noise(SEED):
        real = _floats(call(model, Call(batch)))
    losses, changes = [], []
    for moved in pairings[:rules.ABLATIONS]:
        try:
            with torch.no_grad(), same_noise(SEED):
                out = call(model, Call(moved))
            with torch.no_grad(), same_noise(SEED):
                losses.append(float(_loss(tape, model, moved)))
        except Exception:  # samples that cannot be moved (lengths that must stay sorted for packing): not judged
            return None
        changes += [float((a - b).abs().max()) / max(float(a.abs().max()), 1e-12)
                    for a, b in zip(real, _floats(out)) if a.shape == b.shape and a.numel()]
    if not changes:  # no output tensor to compare (an output type the tree does not open): not judged
        return None
    return {"losses": losses, "output_change": max(changes)}


def _floats(output: Any) -> list[torch.Tensor]:
    return [t.detach().double() for t in tree_leaves(output) if isinstance(t, torch.Tensor) and t.is_floating_point()]


def _same_batch(a: LossHead, b: LossHead) -> bool:
    """Two tapes of one fixed batch (a script that trains on a single batch) give no held-out batch."""
    def tensors(t: LossHead) -> Iterator[torch.Tensor]:
        args, kwargs = t.batch
        yield from (x for x in (*args, *kwargs.values()) if isinstance(x, torch.Tensor))
    xs, ys = list(tensors(a)), list(tensors(b))
    return len(xs) == len(ys) and all(x.shape == y.shape and torch.equal(x, y) for x, y in zip(xs, ys))
