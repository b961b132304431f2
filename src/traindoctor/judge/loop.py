"""Step bookkeeping: zero_grad, schedules, which parameters are optimized, update sizes."""

from __future__ import annotations

import math
import statistics
from typing import Callable

from ..vocabulary.finding import Finding, finding
from ..measure.recorder import OptState, Recorder
from ..measure.stats import fmt
from .common import plural

DIVERGENCE_FACTOR = 10.0  # loss above 10x its early median counts as diverged
LARGE_UPDATE = 1e-1  # update/parameter ratio; ~1e-3 is the usual healthy value (CS231n, Karpathy)
SMALL_UPDATE = 1e-5
COLLAPSE = 1e-2  # LR below 1% of its peak
# Optimizers that divide by a running second-moment estimate (Adam family, RMSprop, Adagrad) move
# every weight by about lr on their first steps, whatever the gradient: with bias correction Adam's
# first update is exactly lr * sign(g) (Kingma & Ba 2015, sec. 2-3). Their early update ratios only
# measure lr/|w|, so on those steps only an update as large as the weights themselves counts.
SECOND_MOMENT_STATE = ("exp_avg_sq", "square_avg", "exp_inf", "sum")
SECOND_MOMENT_WARMUP = 10
SIGN_LIKE_LARGE_UPDATE = 1.0


def _opt_label(st: OptState) -> str:
    lrs = sorted({float(g["lr"]) for g in st.opt.param_groups})
    return f"{type(st.opt).__name__} (lr {', '.join(fmt(x) for x in lrs)})"


def _power(x: float) -> str:
    """An update/parameter ratio as a power of ten, the way the ~1e-3 rule of thumb is stated."""
    return f"10^{math.log10(x):.1f}" if x > 0 else "0 (the weights did not move)"


def _records(rec: Recorder, st: OptState) -> list[dict]:
    return [r for r in rec.records if r["optimizer"] == st.index]


def check(rec: Recorder) -> list[Finding]:
    out: list[Finding] = []
    for st in rec.optimizers.values():
        out += _zero_grad(rec, st) + _schedule(rec, st) + _params(rec, st) + _update_size(rec, st)
    out += _not_in_optimizer(rec)
    return out


def _zero_grad(rec: Recorder, st: OptState) -> list[Finding]:
    later = st.steps - 1
    out = []
    if later >= 3 and st.carried_over_steps >= max(3, 0.5 * later):
        norms = [r["grad_norm"] for r in _records(rec, st) if math.isfinite(r["grad_norm"])]
        growth = f"; gradient norm went from {fmt(norms[0])} to {fmt(norms[-1])}" if len(norms) > 1 else ""
        out.append(finding(
            "grad-not-zeroed",
            f"{_opt_label(st)}: gradients were still holding the previous step's values at {st.carried_over_steps} of "
            f"{later} steps (no zero_grad or grad reset reached its parameters between steps){growth}",
            rec.source, evidence={"optimizer": type(st.opt).__name__, "carried_over_steps": st.carried_over_steps,
                             "steps": st.steps, "grad_norms": norms[:3] + norms[-3:]},
        ))
    if st.steps >= 3 and st.misplaced_steps >= max(3, 0.5 * st.steps):
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
        if peak > 0 and lr <= COLLAPSE * peak:
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
    names = rec._names(params)
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
    if st.steps == 0 or st.misplaced_steps >= 0.5 * st.steps:
        return out
    unused = [(n, p) for n, p in zip(names, params) if p.requires_grad and id(p) not in st.ever_grad]
    if unused:
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


def _not_in_optimizer(rec: Recorder) -> list[Finding]:
    if not rec.optimizers:
        return []
    optimized = {id(p) for st in rec.optimizers.values() for p in st.params()}
    missing = {pid: n for pid, n in rec.grad_not_in_opt.items() if pid not in optimized}
    if not missing:
        return []
    sizes = {id(p): p.numel() for info in rec.roots.values() for p in info.module.parameters()}
    names = sorted(missing.values())
    return [finding(
        "params-not-in-optimizer",
        f"{plural(len(names), 'parameter tensor')} ({sum(sizes.get(pid, 0) for pid in missing):,} values) received gradients "
        f"but belong to no optimizer: {', '.join(f'`{n}`' for n in names[:4])}",
        rec.source, evidence={"parameters": names[:20], "n_parameters": len(names)}, location={"module": names[0]},
    )]


def _per_term(r: dict) -> float | None:
    """The loss per summed term: a sum over a growing number of terms (a REINFORCE episode that
    lengthens as the agent improves) rises without anything diverging."""
    return None if r["loss"] is None else r["loss"] / r.get("loss_terms", 1)


def _divergence(recs: list[dict]) -> tuple[int, str] | None:
    """First step where training visibly blew up: a non-finite loss/gradient, or a loss that rose 10x
    above where it started (the first loss, or the early median if lower, so a blow-up at step 1
    counts) and is still there at the end (the median of the last quarter: an early spike is not)."""
    for i, r in enumerate(recs):
        if r["loss"] is not None and not math.isfinite(r["loss"]) or not math.isfinite(r["grad_norm"]):
            return i, f"the loss was {fmt(r['loss'])} and the gradient norm {fmt(r['grad_norm'])} at step {r['step']}"
    loss = "the loss per summed term" if any("loss_terms" in r for r in recs) else "the loss"
    values = [(i, x) for i, r in enumerate(recs) if (x := _per_term(r)) is not None]
    early = [x for i, x in values if i < 5]
    if len(early) >= 3 and min(early) > 0:
        base = min(early[0], statistics.median(early))
        limit = DIVERGENCE_FACTOR * base
        if statistics.median(x for _, x in values[-max(3, len(values) // 4):]) > limit:
            i, x = next((i, x) for i, x in values if x > limit)
            return i, f"{loss} rose from {fmt(base)} to {fmt(x)} at step {recs[i]['step']} and stayed above {fmt(limit)}"
    return None


def _large_update(st: OptState) -> Callable[[dict], float]:
    """The update ratio that counts as large at a step of this optimizer."""
    state = next(iter(st.opt.state.values()), {})
    if any(k in state for k in SECOND_MOMENT_STATE):
        return lambda r: SIGN_LIKE_LARGE_UPDATE if r["optimizer_step"] < SECOND_MOMENT_WARMUP else LARGE_UPDATE
    return lambda r: LARGE_UPDATE


def _update_size(rec: Recorder, st: OptState) -> list[Finding]:
    recs = _records(rec, st)
    ratios = [(i, r["update_ratio"]) for i, r in enumerate(recs) if r["update_ratio"] is not None and math.isfinite(r["update_ratio"])]
    # Clipping hides explosions from the post-clip norm; judge the raw one where it was logged.
    raw = [r["grad_norm_before_clip"] if r["grad_norm_before_clip"] is not None else r["grad_norm"] for r in recs]
    norms = [g for g in raw if math.isfinite(g)]
    div = _divergence(recs)
    out = []
    if div:
        at, how = div
        large = _large_update(st)
        before = [x for i, x in ratios if i < at]
        if any(x >= large(recs[i]) for i, x in ratios if i < at):
            out.append(finding(
                "lr-too-high",
                f"{_opt_label(st)}: {how}; before it, update/parameter ratios reached {_power(max(before))} "
                f"(median {_power(statistics.median(before))}; healthy training sits near 10^-3)",
                rec.source, evidence={"divergence_step": recs[at]["step"], "update_ratios": before[:20], "lr": recs[0]["lr"]},
                location={"step": recs[at]["step"]},
            ))
    if len(norms) >= 6:
        early = statistics.median(norms[:5])
        peak = max(norms)
        if early > 0 and peak > 1e3 * early:
            out.append(finding(
                "exploding-gradients",
                f"{_opt_label(st)}: total gradient norm grew from {fmt(early)} (median of the first 5 steps) to {fmt(peak)}",
                rec.source, evidence={"early": early, "peak": peak},
            ))
    later = [x for i, x in ratios if i > 0]
    losses = [r["loss"] for r in recs if r["loss"] is not None and math.isfinite(r["loss"])]
    if not div and len(later) >= 10 and len(losses) >= 20 and statistics.median(later) < SMALL_UPDATE:
        head, tail = statistics.mean(losses[:10]), statistics.mean(losses[-10:])
        if head > 0 and (head - tail) / head < 0.05:
            out.append(finding(
                "lr-too-low",
                f"{_opt_label(st)}: median update/parameter ratio {_power(statistics.median(later))} "
                f"(healthy: near 10^-3); the loss went from {fmt(head)} to {fmt(tail)} in {len(losses)} steps",
                rec.source, evidence={"median_update_ratio": statistics.median(later), "loss_first": head, "loss_last": tail},
            ))
    return out
