"""The first loss against chance (with what the loss receives), output entropy, constant outputs,
and whether evaluation is free of training-mode behaviour."""

from __future__ import annotations

import math
from typing import Any, TypedDict

import torch

from ...judge import loss as loss_rules
from ...judge import probes as probe_rules
from ...measure.carried import attributes
from ...measure.copies import set_mode
from ...measure.hooks import installed
from ...measure.recorder import Recorder
from ...measure.stats import tensors_in
from ...vocabulary.finding import Finding
from ..eval_ops import EvalOps
from ..registry import Context, probe
from ..setup import NotApplicable, Setup, main_output
from ..tree import tree_map


class _Loss(TypedDict):
    loss: float


class InitLossRecord(_Loss, total=False):
    chance: float  # the loss of a uniform prediction, and how it was worked out (`run`'s loss hooks)
    basis: str
    output_entropy: float  # of the softmax over the last dim, against log(classes)
    uniform_entropy: float


class ConstantOutputRecord(TypedDict):
    max_spread_across_samples: float
    output_scale: float


class _Eval(TypedDict):
    eval_repeat_max_diff: float  # between two eval passes with the same random draws
    training_form_ops: list[dict[str, Any]]  # dropout or batch statistics that ran in eval
    sampling_ops: list[dict[str, Any]]  # random operations that ran in eval (sampling by design)


class EvalDeterminismRecord(_Eval, total=False):
    eval_max_diff_other_draws: float
    train_vs_eval_relative_diff: float
    note: str


@probe("init-loss", order=20,
       about="one forward and loss on a fresh copy under run's loss hooks; output entropy against uniform")
def init_loss(setup: Setup, context: Context) -> tuple[list[Finding], InitLossRecord]:
    """One forward + loss on a fresh copy, under `run`'s loss-function hooks (same rules, same codes)."""
    model = setup.copy_model(train=True)
    rec = Recorder(max_steps=0, source="checkup")
    with installed(rec), torch.enable_grad():
        out, loss = setup.step_loss(model)
    record = InitLossRecord(loss=float(loss.detach()))
    if rec.first_loss:
        record.update(chance=rec.first_loss["chance"], basis=rec.first_loss["basis"])
    main = main_output(out)
    if main is not None and main.is_floating_point() and main.dim() >= 2 and main.shape[-1] > 1:
        p = torch.softmax(main.detach().float(), -1)
        entropy = float(-(p * p.clamp_min(1e-12).log()).sum(-1).mean())
        record.update(output_entropy=entropy, uniform_entropy=math.log(main.shape[-1]))
    return loss_rules.check(rec), record


@probe("constant-output", order=30, about="eval-mode outputs across the samples of the batch")
def constant_output(setup: Setup, context: Context) -> tuple[list[Finding], ConstantOutputRecord]:
    setup.need_samples(2)
    model = setup.copy_model(train=False)
    with torch.no_grad():
        main = setup.per_sample(setup.forward(model))
    if main is None:
        raise NotApplicable(setup.no_output_samples)
    x = main.detach().float().reshape(main.shape[0], -1)
    spread = float((x.max(0).values - x.min(0).values).max())
    scale = float(x.abs().max()) + 1e-12
    record = ConstantOutputRecord(max_spread_across_samples=spread, output_scale=scale)
    found = probe_rules.constant_output(x.shape[0], spread, scale, dict(record))
    return [found] if found else [], record


@probe("eval-determinism", order=100, cheap=True,
       about="training-mode operations in an eval forward; two eval passes with the same random draws")
def eval_determinism(setup: Setup, context: Context) -> tuple[list[Finding], EvalDeterminismRecord]:
    """Evaluation must not run training-mode behaviour (dropout, batch statistics: diagnosis/eval_ops.py tells
    them from sampling by design), and two eval passes with the same random draws must agree. The spread
    over other draws and the train-vs-eval difference are context. Each pass starts from the tensors the model
    kept from training (a stateful RNN's hidden state, carried between calls by design, is its memory of the
    sequence, not nondeterminism); any other state it keeps (a counter) carries on."""
    model = setup.copy_model(train=False)
    memory = _kept_tensors(model)

    def observed(seed: int) -> tuple[torch.Tensor | None, EvalOps]:
        for module, attr, value in memory:
            setattr(module, attr, tree_map(value, lambda t, _: t.clone()))
        # every pass under the recorder: it turns off fused fast paths (nn.TransformerEncoderLayer's), so
        # passes compared must all run under it or none
        with EvalOps(model) as ops:
            return main_output(setup.forward(model, seed=seed)), ops

    with torch.no_grad():
        (a, ops), (b, _) = observed(0), observed(0)  # the same random draws: every probe forward is seeded alike
        drawn, _ = observed(1)
        set_mode(model, True)
        t = main_output(setup.forward(model, seed=0))
    if a is None or b is None:
        raise NotApplicable("the model returns no output tensor")
    record = EvalDeterminismRecord(eval_repeat_max_diff=_max_diff(a, b), training_form_ops=ops.listed(ops.training),
                                   sampling_ops=ops.listed(ops.sampling))
    if drawn is not None and drawn.shape == a.shape:
        record["eval_max_diff_other_draws"] = _max_diff(a, drawn)
    if t is not None and t.shape == a.shape:
        record["train_vs_eval_relative_diff"] = float((t.float() - a.float()).abs().max() / (a.float().abs().max() + 1e-12))
    spread = record.get("eval_max_diff_other_draws", 0.0)
    training = [(what, ops.shown(module), n, module) for (what, module), n in ops.training.most_common()]
    found = probe_rules.nondeterministic_eval(training, record["eval_repeat_max_diff"], spread, bool(ops.sampling), record)
    if found:
        return [found], record
    if ops.sampling:
        ran = ", ".join(sorted({f"{op} in {ops.shown(where)}" for op, where in ops.sampling}))
        record["note"] = (f"the model samples in eval by design ({ran}): its outputs change with the random draws by up "
                          f"to {spread:.3g}; if an evaluation metric must be deterministic, average it over several passes")
    return [], record


def _kept_tensors(model: torch.nn.Module) -> list[tuple[torch.nn.Module, str, Any]]:
    """The attributes of the model's modules that hold tensors of their own (no parameter shared by reference),
    with those tensors cloned."""
    kept = []
    for _, module, attr, value in attributes(model):
        held = [t for _, t in tensors_in(value)]
        if held and not any(isinstance(t, torch.nn.Parameter) for t in held):
            kept.append((module, attr, tree_map(value, lambda t, _: t.clone())))
    return kept


def _max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.float() - b.float()).abs().max()) if a.shape == b.shape else float("inf")
