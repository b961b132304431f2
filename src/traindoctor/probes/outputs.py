"""The first loss against chance (with what the loss receives), output entropy, constant outputs,
and whether evaluation is deterministic."""

from __future__ import annotations

import math
from typing import Any

import torch

from ..findings import Finding, finding
from ..record.hooks import installed
from ..record.recorder import Recorder
from ..rules import loss as loss_rules
from .setup import NotApplicable, Setup, main_output

CONSTANT_TOL = 1e-6  # spread across samples relative to the output's scale


def init_loss(setup: Setup) -> tuple[list[Finding], dict[str, Any]]:
    """One forward + loss on a fresh copy, under `run`'s loss-function hooks (same rules, same codes)."""
    model = setup.copy_model(train=True)
    rec = Recorder(max_steps=0, source="checkup")
    with installed(rec), torch.enable_grad():
        out, loss = setup.step_loss(model)
    record: dict[str, Any] = {"loss": float(loss.detach())}
    if rec.first_loss:
        record.update(chance=rec.first_loss["chance"], basis=rec.first_loss["basis"])
    main = main_output(out)
    if main is not None and main.is_floating_point() and main.dim() >= 2 and main.shape[-1] > 1:
        p = torch.softmax(main.detach().float(), -1)
        entropy = float(-(p * p.clamp_min(1e-12).log()).sum(-1).mean())
        record.update(output_entropy=entropy, uniform_entropy=math.log(main.shape[-1]))
    return loss_rules.check(rec), record


def constant_output(setup: Setup) -> tuple[list[Finding], dict[str, Any]]:
    setup.need_samples(2)
    model = setup.copy_model(train=False)
    with torch.no_grad():
        main = setup.per_sample(setup.forward(model))
    if main is None:
        raise NotApplicable("the output has no dimension holding the samples")
    x = main.detach().float().reshape(main.shape[0], -1)
    spread = float((x.max(0).values - x.min(0).values).max())
    scale = float(x.abs().max()) + 1e-12
    record = {"max_spread_across_samples": spread, "output_scale": scale}
    if spread <= CONSTANT_TOL * scale:
        return [finding("constant-output", f"all {x.shape[0]} samples of the batch get the same output "
                        f"(largest difference {spread:.2g}, output scale {scale:.2g}), model in eval mode",
                        "checkup", evidence=record)], record
    return [], record


def eval_determinism(setup: Setup) -> tuple[list[Finding], dict[str, Any]]:
    """Two eval passes must agree; train vs eval difference is recorded as context."""
    model = setup.copy_model(train=False)
    with torch.no_grad():
        a, b = main_output(setup.forward(model)), main_output(setup.forward(model))
        model.train()
        t = main_output(setup.forward(model))
    if a is None or b is None:
        raise NotApplicable("the model returns no output tensor")
    diff = float((a.float() - b.float()).abs().max())
    record: dict[str, Any] = {"eval_repeat_max_diff": diff}
    if t is not None and t.shape == a.shape:
        record["train_vs_eval_relative_diff"] = float((t.float() - a.float()).abs().max() / (a.float().abs().max() + 1e-12))
    if diff > 0:
        return [finding("nondeterministic-eval", f"two evaluation passes on the same batch differ by up to {diff:.3g}",
                        "checkup", evidence=record)], record
    return [], record
