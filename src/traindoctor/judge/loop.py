"""Step bookkeeping: zero_grad, schedules, which parameters are optimized; the step series of each
optimizer go through judge/steps/."""

from __future__ import annotations

import math

import torch

from ..vocabulary.finding import Finding, Hypothesis, finding
from ..measure.recorder import ERASE_CHECKS, OptState, Recorder
from ..measure.descent import picked
from ..measure.steps import parameter_names
from ..vocabulary.numbers import fmt
from .common import plural, where
from .numerics import why_not_learning
from .steps import StepRules
from .thresholds import ASCENT_COSINE, LR_COLLAPSE, MIN_STEPS, MOST_STEPS


def _opt_label(st: OptState) -> str:
    lrs = sorted({float(g["lr"]) for g in st.opt.param_groups})
    return f"{type(st.opt).__name__} (lr {', '.join(fmt(x) for x in lrs)})"


def _records(rec: Recorder, st: OptState) -> list[dict]:
    return [r for r in rec.records if r["optimizer"] == st.index]


def check(rec: Recorder) -> list[Finding]:
    out: list[Finding] = []
    for st in rec.optimizers.values():
        out += _zero_grad(rec, st) + _schedule(rec, st) + _params(rec, st) + _step_series(rec, st)
    out += _not_in_optimizer(rec) + _leaf_loss(rec) + _ascending_updates(rec) + _fed_back_cut(rec)
    return out


FED_BACK = [
    Hypothesis("the detach meant to truncate backpropagation between batches sits inside the loop over time (or "
               "over the model's calls)", "move it before the loop, where the state is carried from the previous "
               "batch: the recurrent weights then get a gradient through time"),
    Hypothesis("backpropagation is truncated on purpose to one call (each call's state a fixed input)",
               "if so, nothing that spans calls is meant to be learned", kind="null")]


def _fed_back_cut(rec: Recorder) -> list[Finding]:
    """A model whose own outputs are fed back into its next call of the same step with their graph cut, at most
    steps that feed back (measure/fed_back.py): the loss depends on the earlier calls through the state, and
    no gradient goes from one call back to the one before."""
    out = []
    for info in rec.roots.values():
        fb = info.fed_back
        if fb.steps < MIN_STEPS or fb.steps < MOST_STEPS * fb.fed_steps:
            continue
        name = type(info.module).__name__
        out.append(finding(
            "graph-break",
            f"`{name}`'s own outputs are fed back into its next call within the same step with their graph cut "
            f"(`.detach()` or `.data` between the calls{where({'location': fb.first_location})}) at {fb.steps} of "
            f"{fb.fed_steps} steps that feed them back: the loss reads every call's output and each call reads the "
            "one before it, yet no gradient flows from a call back to the previous one — nothing that spans two "
            "calls (for a recurrent cell, anything over time) can be learned. Detach the state between batches, "
            "not between the calls of one step", rec.source, severity="warning", hypotheses=FED_BACK,
            evidence={"model": name, "cut_steps": fb.steps, "fed_back_steps": fb.fed_steps,
                      "cuts": [{"call": "detach", **fb.first_location}]},
            location=dict(fb.first_location) or {"module": name}))
    return out


def _leaf_loss(rec: Recorder) -> list[Finding]:
    """backward() called on a tensor no computation produced: a loss rebuilt from a number (`.item()`,
    `torch.tensor(value, requires_grad=True)`) carries no gradient to any parameter. Likewise a loss computed
    from such a tensor (per-sample predictions gathered with `.item()` and rebuilt into one): its graph has
    nodes, yet reaches none of the weights an optimizer or a model holds."""
    if rec.leaf_backward >= MIN_STEPS and rec.leaf_backward >= MOST_STEPS * (rec.leaf_backward + rec.backward_calls):
        return [finding(
            "graph-break",
            f"backward() was called {plural(rec.leaf_backward, 'time')} on a tensor with no autograd graph behind it"
            f"{where({'location': rec.leaf_location})}: the loss was rebuilt from a number, so no gradient reaches "
            "the model", rec.source,
            evidence={"leaf_backward_calls": rec.leaf_backward, "graph_backward_calls": rec.backward_calls},
            location=rec.leaf_location)]
    unreached = rec.unreached_backward
    if unreached < MIN_STEPS or unreached < MOST_STEPS * rec.walked_backward:
        return []
    return [finding(
        "graph-break",
        f"the loss's autograd graph reaches none of the weights an optimizer or a model holds at {unreached} of "
        f"{rec.walked_backward} backward passes walked{where({'location': rec.unreached_location})}: it was computed "
        "from values taken out of autograd (`.item()`, `.tolist()`, numpy) and rebuilt into new tensors, so no "
        "gradient reaches the model", rec.source,
        evidence={"unreached_backward_calls": unreached, "walked_backward_calls": rec.walked_backward},
        location=rec.unreached_location)]


def _ascending_updates(rec: Recorder) -> list[Finding]:
    """Updates written by hand that move the weights up the gradient (measure/descent.py)."""
    cosines = rec.descent.cosines
    climbing = sum(c < 0 for c in cosines)
    if len(cosines) < MIN_STEPS or climbing < MOST_STEPS * len(cosines):
        return []
    median = sorted(cosines)[len(cosines) // 2]
    if median > ASCENT_COSINE:
        return []
    return [finding(
        "loss-sign-flipped",
        f"the weights move up the gradient: between backward passes, their change points against the descent "
        f"direction at {climbing} of {len(cosines)} measured updates (median cosine {fmt(median)}; -1 is a step that "
        "adds the gradient) — the update written by hand climbs the loss",
        rec.source, evidence={"cosines": cosines[:50], "measured_updates": len(cosines), "climbing": climbing},
        title="The weights are updated up the gradient",
        hypotheses=[Hypothesis("the update adds the gradient (p += lr * p.grad) or uses a negative learning rate",
                               "print one weight, its gradient and the weight after the update"),
                    Hypothesis("the loss is maximized on purpose (a reward written as a loss, gradient ascent)",
                               "confirm which quantity is meant to fall", kind="null")],
        next_step="Subtract the gradient in the update (p -= lr * p.grad), or use a torch.optim optimizer.")]


def _zero_grad(rec: Recorder, st: OptState) -> list[Finding]:
    later = st.steps - 1
    out = []
    if later >= MIN_STEPS and st.carried_over_steps >= max(MIN_STEPS, MOST_STEPS * later):
        norms = [r["grad_norm"] for r in _records(rec, st) if math.isfinite(r["grad_norm"])]
        growth = f"; gradient norm went from {fmt(norms[0])} to {fmt(norms[-1])}" if len(norms) > 1 else ""
        out.append(finding(
            "grad-not-zeroed",
            f"{_opt_label(st)}: gradients were still holding the previous step's values at {st.carried_over_steps} of "
            f"{later} steps (no zero_grad or grad reset reached its parameters between steps){growth}",
            rec.source, evidence={"optimizer": type(st.opt).__name__, "carried_over_steps": st.carried_over_steps,
                             "steps": st.steps, "grad_norms": norms[:3] + norms[-3:]},
        ))
    erased = st.erased_steps
    if st.steps >= MIN_STEPS and erased >= max(MIN_STEPS, MOST_STEPS * min(st.steps, ERASE_CHECKS)):
        names = parameter_names(st.erased_params, rec.models())
        out.append(finding(
            "zero-grad-misplaced",
            f"{_opt_label(st)}: at {erased} of the first {min(st.steps, ERASE_CHECKS)} steps looked at, "
            f"zero_grad(){where({'location': st.erased_location})} "
            f"erased gradients a backward() had left before step() read them, and no later backward() gave "
            f"{plural(len(names), 'parameter tensor')} (e.g. {', '.join(f'`{n}`' for n in names[:3])}) any back — "
            "the loss behind the erased backward() never trains them",
            rec.source, evidence={"optimizer": type(st.opt).__name__, "erased_steps": erased, "steps": st.steps,
                                  "parameters": names[:20]},
            location=st.erased_location))
    if st.steps >= MIN_STEPS and st.misplaced_steps >= max(MIN_STEPS, MOST_STEPS * st.steps):
        out.append(finding(
            "zero-grad-misplaced",
            f"{_opt_label(st)}: at {st.misplaced_steps} of {st.steps} steps every gradient was zero or None when "
            "step() ran, although backward() had run since the previous step and zero_grad() was called after it",
            rec.source, evidence={"optimizer": type(st.opt).__name__, "misplaced_steps": st.misplaced_steps, "steps": st.steps},
        ))
    return out


def _schedule(rec: Recorder, st: OptState) -> list[Finding]:
    epoch = max(rec.loader_lens.values(), default=0)
    peak = 0.0
    for r in _records(rec, st):
        i, lr = r["optimizer_step"], r["lr"][0]
        peak = max(peak, lr)
        if peak > 0 and lr <= LR_COLLAPSE * peak:
            if not epoch or i >= epoch / 2:
                return []
            scheds = [s for s in rec.schedulers.values()]
            names = ", ".join(f"{s['class']} stepped {plural(s['steps'], 'time')}" for s in scheds) or "no scheduler seen"
            return [finding(
                "scheduler-too-fast",
                f"{type(st.opt).__name__}: learning rate fell from {fmt(peak)} to {fmt(lr)} "
                f"({fmt(math.log10(peak / lr) if lr > 0 else float('inf'))} orders of magnitude) by step {i}, "
                f"less than half an epoch ({epoch} batches per epoch); {names} in {st.steps} optimizer steps",
                rec.source, evidence={"peak_lr": peak, "lr": lr, "step": i, "epoch_batches": epoch, "schedulers": scheds},
                location={"step": i},
            )]
    return []


def _params(rec: Recorder, st: OptState) -> list[Finding]:
    out = []
    params = st.params()
    names = parameter_names(params, rec.models())
    # Frozen is what was observed across the run, not the state at the stop: a parameter trainable at a
    # sampled step was trained (GAN loops and Lightning's toggle_optimizer switch requires_grad per step).
    frozen = [n for n, p in zip(names, params) if not p.requires_grad and id(p) not in st.ever_trainable]
    if frozen:
        every = len(frozen) == len(params)
        seen = f" at every one of its {st.steps} steps" if st.steps else ""
        out.append(finding(
            "frozen-params",
            f"{_opt_label(st)} holds {len(frozen)} of {len(params)} parameter tensors with requires_grad=False{seen}"
            + (": nothing can train" if every else f" (e.g. `{frozen[0]}`)"),
            rec.source, severity="error" if every else "info", evidence={"frozen": frozen[:20], "n_frozen": len(frozen), "n_params": len(params)},
        ))
    # "Never" needs a few steps to stand on: one step's read can come before a closure computes its gradients
    # (LBFGS computes them inside step()).
    if st.steps < MIN_STEPS or st.misplaced_steps >= MOST_STEPS * st.steps:
        return out
    by_hand = st.moved_by_hand()
    unused = [(n, p) for n, p in zip(names, params) if p.requires_grad and id(p) not in st.ever_grad
              and id(p) not in by_hand]
    if unused:
        out += _fed_under_no_grad(rec, st, {id(p) for _, p in unused})
        every = len(unused) == sum(p.requires_grad for p in params)
        size = sum(p.numel() for _, p in unused)
        out.append(finding(
            "optimizer-params-unused",
            f"{_opt_label(st)}: {len(unused)} of {len(params)} parameter tensors ({size:,} values) never received a "
            f"gradient in {st.steps} steps" + (": no parameter is connected to the loss" if every else
                                              f", e.g. {', '.join(f'`{n}`' for n, _ in unused[:3])}"),
            rec.source, severity="error" if every else "warning",
            evidence={"parameters": [n for n, _ in unused[:20]], "n_unused": len(unused), "values": size},
            location={"module": unused[0][0]},
        ))
    return out


def _fed_under_no_grad(rec: Recorder, st: OptState, unused: set[int]) -> list[Finding]:
    """Models whose weights this optimizer holds and never got a gradient, called under no_grad for the inputs
    of another model's training calls (measure/nograd_feeds.py): the loss is computed from their output, so it
    depends on them, and the no_grad is where their path stops."""
    out = []
    for feed in rec.nograd_feeds.feeds.values():
        source, fed = rec.roots.get(feed.source), rec.roots.get(feed.fed)
        if source is None or fed is None:
            continue
        cut = [n for n, p in source.module.named_parameters() if id(p) in unused]
        if not cut:
            continue
        at = where({"location": feed.location})
        out.append(finding(
            "graph-break",
            f"{_opt_label(st)} updates {len(cut)} parameter tensors of `{type(source.module).__name__}` (e.g. "
            f"`{cut[0]}`) that never get a gradient, yet the loss depends on them: that model runs under "
            f"torch.no_grad(){at} and its output is the input of `{type(fed.module).__name__}`'s "
            f"training calls ({plural(feed.calls, 'call')} seen) — the loss can never train it", rec.source,
            severity="warning", evidence={"parameters": cut[:20], "cuts": [{"call": "torch.no_grad()", **feed.location}],
                                          "calls": feed.calls},
            location=dict(feed.location) or {"module": cut[0]}))
    return out


def _not_in_optimizer(rec: Recorder) -> list[Finding]:
    if not rec.optimizers:
        return []
    optimized = {id(p) for st in rec.optimizers.values() for p in st.params()}
    missing = {pid: n for pid, n in rec.grad_not_in_opt.items() if pid not in optimized and not _moved(rec, pid)}
    missing.update(_loose(rec, optimized))
    if not missing:
        return []
    sizes = {id(p): p.numel() for info in rec.roots.values() for p in info.module.parameters()}
    sizes.update((pid, t.numel()) for pid, leaf in rec.loose_leaves.items() if (t := leaf.alive()) is not None)
    names = sorted(missing.values())
    return [finding(
        "params-not-in-optimizer",
        f"{plural(len(names), 'parameter tensor')} ({sum(sizes.get(pid, 0) for pid in missing):,} values) received gradients "
        f"but belong to no optimizer: {', '.join(f'`{n}`' for n in names[:4])}",
        rec.source, evidence={"parameters": names[:20], "n_parameters": len(names)}, location={"module": names[0]},
    )]


def _loose(rec: Recorder, optimized: set[int]) -> dict[int, str]:
    """Tensors outside every model (a plain attribute, a global) that backward() gave gradients at several
    sampled passes, that no optimizer holds and whose values never changed (measure/leaves.py)."""
    out = {}
    for pid, leaf in rec.loose_leaves.items():
        t = leaf.alive()
        if t is None or pid in optimized or leaf.seen < 2 or not t.requires_grad or leaf.moved():
            continue
        out[pid] = attribute_name(rec, t) or f"a tensor of shape {list(t.shape)} outside the model's parameters"
    return out


def attribute_name(rec: Recorder, t: torch.Tensor) -> str | None:
    """Where a model keeps `t` as a plain attribute: `encoder.scale`."""
    for info in rec.roots.values():
        for name, module in info.module.named_modules():
            for key, value in vars(module).items():
                if value is t:
                    return f"{name}.{key}" if name else key
    return None


def _moved(rec: Recorder, pid: int) -> bool:
    """A parameter outside every optimizer whose values changed during the run was updated by other means
    (float32 master weights copied back, an EMA): the optimizer does update what it stands for."""
    p, before = rec.grad_not_in_opt_values[pid]
    with torch.no_grad():
        return not torch.equal(picked(p), before)


# Rules on the shape of one loss curve, which assume the loss is minimised against a fixed yardstick. A player
# in a game (a GAN's generator or discriminator) minimises its loss against an opponent that pushes it back up,
# and a loss measured by weights another optimizer trains on another loss (an actor's −Q(s, π(s)) by its
# critic) moves with that model's learning: their spikes, plateaus and climbs are the other model's progress.
_MINIMISED_SHAPES = {"loss-spikes", "loss-plateau", "loss-divergence"}


def _step_series(rec: Recorder, st: OptState) -> list[Finding]:
    """The recorded steps of one optimizer, through the same rules the Monitor runs online."""
    rules = StepRules(rec.source, label=f"{_opt_label(st)}: ", optimizer=st.opt)
    found = [f for r in _records(rec, st) for f in rules.observe(r)]
    stuck = why_not_learning(rec)
    for f in found:
        # Severity follows consequence: a clip that sets every step's length is the likeliest brake on a loss
        # that does not learn (the experiments' arms, which do not clip, fit the batch).
        if f.code == "clipping-every-step" and stuck:
            f.severity, f.observation = "error", f"{f.observation}; {stuck}"
    moving = _a_player(rec, st) or (st.judged_by_other and st.judged_by_other >= MOST_STEPS * (
        st.judged_by_other + st.judged_own))
    return [f for f in found if f.code not in _MINIMISED_SHAPES] if moving else found


def _a_player(rec: Recorder, st: OptState) -> bool:
    """Whether the optimizer steps one of two models found playing a game (measure/adversaries.py)."""
    players = {m for pair in rec.adversaries.pairs for m in pair}
    stepped = {id(p) for group in st.opt.param_groups for p in group["params"]}
    return any(id(p) in stepped for m in players if m in rec.roots for p in rec.roots[m].module.parameters())
