"""Multi-loss balance: when the loss is a sum of terms, what each term asks of the weights they share.

For each additive term (read from the loss head on tape, measure/tape.py `Tape.terms`, or logged to the
Monitor as `terms={...}`), the gradient it sends to the parameters that two or more terms reach, its norm,
and for each pair of terms the cosine between their gradients and how much of them cancels. A term that
reaches only parameters of its own (an auxiliary head) asks nothing of shared weights and is not compared;
terms computed from the weights alone (an L2 penalty written into the loss) are regularisers and are not
judged. The rules are in judge/loss_balance.py.

`run` measures on copies at the initial and the final weights, on the batches of the last two tapes — or, when
some terms are not on tape (another call of the model, a derivative taken with autograd.grad, held as
constants there), on the live graph of the first and the latest steps taped;
`checkup` on copies trained a few steps on its batch; the Monitor on the live graph at sampled steps
(torch.autograd.grad, which leaves `.grad` alone). Gradients are taken with the graph retained, so the
script's own backward() that follows is unaffected.
"""

from __future__ import annotations

import itertools
import time
from typing import Any, Callable, Sequence

import torch
from torch import nn

from ..judge import loss_balance
from ..judge.thresholds import BALANCE_MAX_TERMS
from ..measure.copies import independent_copy, set_mode
from ..measure.recorder import LIVE_KEPT
from ..measure.tape import Tape, TapeRecorder, Term
from ..measure.term_grads import measure
from ..vocabulary.finding import Finding
from .sandbox import isolated
from .tree import Call, call

NAME = "loss-terms"
CHECKUP_STEPS = 30  # checkup's copy is trained this many steps on its batch, sampled every CHECKUP_EVERY
CHECKUP_EVERY = 10


class NotMultiLoss(Exception):
    """The loss is not a sum of terms that share parameters: nothing to balance (the reason)."""


# ── terms of a recorded loss ─────────────────────────────────────────────────

def named_terms(tape: Tape) -> dict[str, Term]:
    """The terms to compare, by a readable name (the torch call that made each, numbered when repeated)."""
    terms = [t for t in tape.terms() if not t.weights_only and t.weight != 0]
    if len(terms) < 2:
        raise NotMultiLoss("the loss is a single term (besides any penalty on the weights)")
    if len(terms) > BALANCE_MAX_TERMS:
        raise NotMultiLoss(f"the loss sums {len(terms)} pieces: one objective over parts (time steps, positions), "
                           "not separate objectives")
    named: dict[str, Term] = {}
    for t in terms:
        name = t.name if t.name not in named else next(f"{t.name}#{k}" for k in itertools.count(2)
                                                        if f"{t.name}#{k}" not in named)
        named[name] = t
    return named


def multi_term(tape: Tape) -> bool:
    """Whether the recorded loss sums two or more terms computed from the outputs (not one, not hundreds)."""
    try:
        named_terms(tape)
    except NotMultiLoss:
        return False
    return True


def _sample(model: nn.Module, tape: Tape, at: Any) -> loss_balance.Sample | None:
    params = [p for p in model.parameters() if p.requires_grad]
    with torch.enable_grad():
        out = call(model, Call(tape.batch), seed=0)
        values = tape.values_of(out, dict(model.named_parameters()))
        named = named_terms(tape)
        terms = {name: values[t.slot] * t.weight for name, t in named.items()
                 if isinstance(values.get(t.slot), torch.Tensor)}
        sample = measure(terms, params, at)
    if sample is not None:  # each term's uninformed level, in its value's units (times its weight)
        sample["uninformed"] = {name: level * t.weight for name, t in named.items() if name in sample["values"]
                                and (level := tape.uninformed(t.slot, values)) is not None}
    return sample


def check_run(model: nn.Module, tapes: Sequence[Tape], initial: dict[str, torch.Tensor] | None,
              live: Sequence[loss_balance.Sample] = ()) -> tuple[list[Finding], dict]:
    """run: samples at the initial weights and at the final weights, on each tape's batch; or, when some terms
    of the loss are not on tape, the first and latest samples of the run's live graph (`live`, measure/tape.py
    `live_terms`). Raises NotMultiLoss."""
    if len(live) >= 2 * LIVE_KEPT:
        weights = {n: w for s in live for n, w in s["weights"].items()}
        tasks = {n for s in live for n in s["tasks"]}
        off_tape = {n for s in live for n in s["off_tape"]}
        samples = [{k: v for k, v in s.items() if k not in ("weights", "tasks", "off_tape")} for s in live]
        # Cancelling is judged between tasks seen on tape only: a term off tape may be a penalty, opposed by design.
        found = loss_balance.imbalance(samples, "run", weights, tasks, off_tape) + (
            loss_balance.conflict(samples, "run", tasks) if tasks else [])
        return found, {**_record(samples, weights), "off_tape": sorted(off_tape)}
    terms = named_terms(tapes[-1])
    weights = {name: t.weight for name, t in terms.items()}
    tasks = {name for name, t in terms.items() if t.targeted}
    if initial is None:
        raise NotMultiLoss("the initial weights were not kept (the model is too large): no start to compare with")
    with isolated():
        start = set_mode(independent_copy(model), True)
        start.load_state_dict(initial)
        end = set_mode(independent_copy(model), True)
        samples = [s for m, at in ((start, "initial"), (end, "final")) for tape in tapes
                   if (s := _sample(m, tape, f"{at} weights, batch of step {tape.step}")) is not None]
    if not samples:
        raise NotMultiLoss("no two terms of the loss reach a shared parameter")
    return loss_balance.judge(samples, "run", weights, tasks), _record(samples, weights)


def run_record(model: nn.Module, tapes: Sequence[Tape], initial: dict[str, torch.Tensor] | None,
               found: list[Finding], live: Sequence[loss_balance.Sample] = ()) -> dict[str, Any]:
    """run's probe record for the loss terms; findings are added to `found`. Never raises."""
    try:
        new, record = check_run(model, tapes, initial, live)
    except NotMultiLoss as exc:
        return {"name": NAME, "status": "skipped", "note": str(exc)}
    except Exception as exc:  # a bug of ours: the other findings stand
        return {"name": NAME, "status": "failed", "note": f"probe failed: {type(exc).__name__}: {exc}"}
    found += new
    return {"name": NAME, "status": "ran", **record}


def check_checkup(model: nn.Module, inputs: Any, targets: Any, loss_fn: Callable,
                  make_optimizer: Callable) -> tuple[list[Finding], dict]:
    """checkup: the loss on tape from one call of `loss_fn`, then a copy trained CHECKUP_STEPS steps on the batch,
    sampled every CHECKUP_EVERY. Raises NotMultiLoss."""
    with isolated():
        replica = set_mode(independent_copy(model), True)
        tape = _tape(replica, inputs, targets, loss_fn)
        terms = named_terms(tape)
        weights = {name: t.weight for name, t in terms.items()}
        tasks = {name for name, t in terms.items() if t.targeted}
        opt = make_optimizer([p for p in replica.parameters() if p.requires_grad])
        samples = []
        for step in range(CHECKUP_STEPS + 1):
            if step % CHECKUP_EVERY == 0 and (s := _sample(replica, tape, f"step {step}")) is not None:
                samples.append(s)
            if step < CHECKUP_STEPS:
                opt.zero_grad(set_to_none=True)
                with torch.enable_grad():
                    tape.loss_of(call(replica, Call(tape.batch), seed=step), dict(replica.named_parameters())).backward()
                opt.step()
    if not samples:
        raise NotMultiLoss("no two terms of the loss reach a shared parameter")
    return loss_balance.judge(samples, "checkup", weights, tasks), _record(samples, weights)


def checkup_record(model: nn.Module, setup: Any, found: list[Finding]) -> dict[str, Any]:
    """checkup's record for the loss terms (its Setup's batch, loss and optimizer), timed like the probes' (reported,
    never judged); findings are added to `found`."""
    started = time.monotonic()
    try:
        new, record = check_checkup(model, setup.inputs, setup.targets, setup.loss_fn, setup.make_optimizer)
    except NotMultiLoss as exc:
        record = {"status": "skipped", "note": str(exc)}
    except Exception as exc:  # a bug of ours, or a loss this cannot record: the other findings stand
        record = {"status": "failed", "note": f"probe failed: {type(exc).__name__}: {exc}"}
    else:
        found += new
        record = {"status": "ran", **record}
    return {"name": NAME, **record, "seconds": round(time.monotonic() - started, 3)}


def _tape(model: nn.Module, inputs: Any, targets: Any, loss_fn: Callable) -> Tape:
    """The loss head of one call of `loss_fn` on the model's output, on tape (its batch as the model call's
    arguments, as run records them)."""
    if isinstance(inputs, Call):
        args, kwargs = tuple(inputs[0]), dict(inputs[1])
    elif isinstance(inputs, dict):
        args, kwargs = (), dict(inputs)
    else:
        args, kwargs = (tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)), {}
    recorder = TapeRecorder()
    with torch.enable_grad():
        out = model(*args, **kwargs)
        recorder.start(model, out, args, kwargs, 0)
        try:
            loss = loss_fn(out, targets)
        except BaseException:
            recorder.abandon()
            raise
        tape = recorder.finish(loss) if isinstance(loss, torch.Tensor) else None
        recorder.abandon()
    if tape is None:
        raise NotMultiLoss("the loss computation could not be recorded")
    return tape


def _record(samples: list[loss_balance.Sample], weights: dict[str, float]) -> dict[str, Any]:
    return {"terms": list(weights), "weights": weights, "samples": samples}
