"""Training-loop rules: zero_grad placement, scheduler cadence, no_grad training, graph breaks."""

from __future__ import annotations

import ast
from bisect import bisect_left, bisect_right

from ..facts import CallSite, Facts, Scope, dotted
from ..backward import may_run_backward
from ..flow import sources, summary
from ..registry import rule
from .common import Context, Diagnostic, is_optimizer

PER_EPOCH = {"StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR", "PolynomialLR"}
_LENGTH_HINTS = ("len(", "step", "iter", "total", "batch")
_REWRAP = {"tensor", "Tensor", "as_tensor", "from_numpy", "Variable", "FloatTensor"}
_LEAVES_GRAPH = {"item", "numpy", "tolist", "detach"}


def _is_backward(call: CallSite) -> bool:
    return call.attr == "backward"


def _steps(calls: list[CallSite], ctx: Context) -> list[CallSite]:
    out = []
    for c in calls:
        if c.attr == "step" and c.base and is_optimizer(c.base, ctx, c):
            out.append(c)
        elif c.attr == "step" and c.base.endswith("scaler") and c.node.args:  # AMP: scaler.step(optimizer)
            out.append(c)
    return out


def _resets(calls: list[CallSite], ctx: Context) -> list[CallSite]:
    """zero_grad calls among the (spliced) calls of a loop, and calls of helpers that set `p.grad = None`."""
    return [c for c in calls if c.attr == "zero_grad" or (c.attr == "zero_" and c.base.endswith("grad"))
            or _helper_resets_grad(c, ctx)]


def _helper_resets_grad(call: CallSite, ctx: Context) -> bool:
    reached = ctx.flow.reach(call, spliced=True)
    return reached is not None and bool(reached[0].facts.by_node[reached[1]].grad_resets)


def _training_loops(ctx: Context) -> list[tuple[Scope, ast.AST, list[CallSite]]]:
    """The innermost loops of the file that call backward() and an optimizer step, with their calls
    (those of the helpers they call spliced in, so a step taken in a helper counts)."""
    out = []
    if not ctx.mentions("backward"):
        return out
    for scope in ctx.facts.scopes:
        for loop in scope.loops:
            if not any(may_run_backward(ctx.flow, c) for c in scope.in_loop[loop]):
                continue  # cannot train: its helpers are not spliced (nor their modules read)
            calls = ctx.spliced(scope.in_loop[loop])
            if not any(map(_is_backward, calls)) or not _steps(calls, ctx):
                continue
            inner = [c for c in calls if c.loops[-1] is not loop]
            if any(map(_is_backward, inner)) and _steps(inner, ctx):
                continue  # a nested loop trains; judge that one
            out.append((scope, loop, calls))
    return out


@rule("grad-not-zeroed")
def grad_not_zeroed(facts: Facts, ctx: Context, diags: list[Diagnostic]) -> None:
    """
    ## How it decides
    The innermost loop that calls `.backward()` and `<optimizer>.step()` (an object built by
    `torch.optim` — followed through factories, `self.` attributes and parameters — or named like an
    optimizer; `scaler.step(opt)` counts) contains no `zero_grad()` and no `p.grad = None`. The loop's
    calls include those of the helpers it calls (functions and `self.` methods of the same file,
    functions imported explicitly from a module next to it, and theirs), so a training step or a
    reset in a helper counts; a step found in an imported helper is reported at the call of it. Gradient accumulation (zero_grad under
    an `if` in the loop) is therefore fine.

    ## Known false negatives
    backward, step or zero_grad reachable only through a method of another object, a module attribute
    (`utils.step()`) or a module that is not next to the file.

    ## Known false positives
    A loop that accumulates on purpose across optimizer steps (rare; suppress the line).
    """
    for scope, loop, calls in ctx.once(_training_loops):
        if _resets(calls, ctx) or any(loop in loops for loops in scope.grad_resets):  # zero_grad or `p.grad = None`
            continue
        step = _steps(calls, ctx)[0]
        diags.append(Diagnostic("grad-not-zeroed", ctx.here(step), f"this loop calls backward() and "
                                f"`{step.name}()` but never zero_grad(): gradients add up across steps"))


@rule("zero-grad-misplaced")
def zero_grad_misplaced(facts: Facts, ctx: Context, diags: list[Diagnostic]) -> None:
    """
    ## How it decides
    In one loop body — helpers it calls spliced in at their call sites, in order — a `zero_grad()`
    follows a `.backward()` and precedes the next optimizer step with no backward in between, at the
    same loop level.

    ## Known false negatives
    Orders split across methods of other objects, or across modules not imported explicitly by name.

    ## Known false positives
    None known.
    """
    for _, _, calls in ctx.once(_training_loops):
        resets, steps = _resets(calls, ctx), _steps(calls, ctx)
        backs = [c for c in calls if _is_backward(c)]
        back_at, step_at = [b.order for b in backs], [s.order for s in steps]  # source order: sorted
        for z in resets:
            i, j = bisect_left(back_at, z.order), bisect_right(step_at, z.order)
            if i == 0 or j == len(steps):
                continue  # no backward before it, or no step after it
            before, after = backs[i - 1], steps[j]
            backward_between = i < len(backs) and backs[i].order < after.order
            if not backward_between and z.loops == after.loops == before.loops:
                diags.append(Diagnostic("zero-grad-misplaced", ctx.here(z),
                                        f"`{z.name}()` runs after backward() and before `{after.name}()`: the step sees zeroed gradients"))


def _iterates_data(loop: ast.AST) -> bool:
    if not isinstance(loop, (ast.For, ast.AsyncFor)):
        return False
    text = ast.unparse(loop.iter).lower()
    return "loader" in text or "batch" in text


@rule("scheduler-too-fast")
def scheduler_too_fast(facts: Facts, ctx: Context, diags: list[Diagnostic]) -> None:
    """
    ## How it decides
    A per-epoch scheduler (StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR, PolynomialLR) is
    stepped without arguments in the innermost training loop (directly or in a helper it calls),
    when that loop iterates over something named like a loader or batches, and the scheduler's
    period does not mention `len(`, steps, iterations, totals or batches. The scheduler is found
    where it was built: a factory (also one imported from a module next to the file), a `self.`
    attribute, a caller's argument.

    ## Known false negatives
    Schedulers created in a module not next to the file; loops over other iterables; a period computed in a variable
    whose name does not say it counts steps.

    ## Known false positives
    A period that really is in batches but named without those words (e.g. `T_max=n`) — suppress
    the line.
    """
    for _, loop, calls in ctx.once(_training_loops):
        if not _iterates_data(loop):
            continue
        for c in calls:
            if c.attr != "step" or c.node.args or c.loops[-1] is not loop:
                continue
            built = _scheduler(c, ctx)
            cls = dotted(built.func).rsplit(".", 1)[-1] if built is not None else ""
            if cls in PER_EPOCH and not any(h in ast.unparse(a).lower() for a in built.args[1:] + [k.value for k in built.keywords]
                                            for h in _LENGTH_HINTS):
                diags.append(Diagnostic("scheduler-too-fast", ctx.here(c),
                                        f"`{c.name}()` ({cls}, whose period is counted in epochs) is stepped once per batch"))


def _scheduler(step: CallSite, ctx: Context) -> ast.Call | None:
    """The call that built the object `step` steps: followed through the flow, else any binding of its name."""
    receiver = step.node.func.value if isinstance(step.node.func, ast.Attribute) else None
    vals = ctx.flow.values(receiver, step.scope) if receiver is not None and step.scope else ()
    built = [v.node for v in vals if v.kind == "built" and isinstance(v.node, ast.Call)]
    if built:
        return built[0] if len(built) == 1 else None
    return next((v for _, v in ctx.bindings.get(step.base, ()) if isinstance(v, ast.Call)), None)


@rule("no-grad-training")
def no_grad_training(facts: Facts, ctx: Context, diags: list[Diagnostic]) -> None:
    """
    ## How it decides
    `.backward()` runs with gradients disabled: inside `with torch.no_grad()` / `inference_mode()` /
    `set_grad_enabled(False)`, in a function decorated with one of them (`@torch.no_grad()` or
    `@torch.no_grad`), or in a helper every caller in the file runs that way (transitively) —
    unless `enable_grad` (a `with` or the helper's decorator) turns gradients back on. A function
    imported from a module next to the file that calls backward() (itself or through its helpers)
    and is called under no_grad is reported at its call.

    ## Known false negatives
    no_grad entered in a module that imports this one, or through a method of another object; a helper called both
    with and without gradients (one of its callers trains through it).

    ## Known false positives
    None known (backward under no_grad fails or does nothing).
    """
    imported = ctx.flow.imported_names()
    for scope in facts.scopes:
        for c in scope.calls:
            if _is_backward(c) and ctx.flow.without_grad(c):
                diags.append(Diagnostic("no-grad-training", c.node, "backward() inside `torch.no_grad()`: the loss has no graph"))
            elif c.name in imported and ctx.flow.without_grad(c) and _imported_backward(c, ctx):
                diags.append(Diagnostic("no-grad-training", c.node, f"`{c.name}(...)` calls backward() and runs inside "
                                        "`torch.no_grad()`: the loss has no graph"))


def _imported_backward(call: CallSite, ctx: Context) -> bool:
    """Whether `call` runs a function imported from a module next to this file that calls backward()
    in its caller's grad mode (its own `enable_grad` does not intervene)."""
    reached = ctx.flow.reach(call, spliced=True) if may_run_backward(ctx.flow, call) else None
    if reached is None or reached[0] is ctx.flow:
        return False
    return any(_is_backward(i) and i.grad is None for i in summary(*reached))


@rule("graph-break")
def graph_break(facts: Facts, ctx: Context, diags: list[Diagnostic]) -> None:
    """
    ## How it decides
    Every path the tensor `.backward()` is called on comes from (its assignments, a helper's
    `return` — also of a function imported from a module next to the file, reported then at the
    backward() —, the `forward` of a loss module of this file, what every caller passes) ends in `torch.tensor(...)` / `Tensor` / `from_numpy` /
    `Variable`, a call ending in `.item()` / `.numpy()` / `.tolist()` / `.detach()`, or `.data`.

    ## Known false negatives
    Breaks earlier in the computation (a detached intermediate); a break on only some paths.

    ## Known false positives
    None known: `.detach()` on targets inside the loss expression is not flagged.
    """
    for scope in facts.scopes:
        for c in scope.calls:
            if not _is_backward(c) or not isinstance(c.node.func, ast.Attribute) or not isinstance(c.node.func.value, ast.Name):
                continue
            origins = sources(ctx.flow, c.node.func.value, scope)
            breaks = [_break(c.base, value) for _, value in origins or ()]
            if breaks and all(breaks):  # every path the loss comes from has left autograd
                # a break in a module next to this file (an imported helper) is reported at the backward()
                diags += [d if ctx.flow.owns(s) else Diagnostic(d.code, c.node, d.message + " (in an imported helper)")
                          for d, (s, _) in zip(breaks, origins)]


def _break(name: str, value: ast.expr) -> Diagnostic | None:
    """Why `value`, where the tensor backward() is called on comes from, carries no gradient; None if it may."""
    if isinstance(value, ast.Call):
        callee = dotted(value.func)
        last = callee.rsplit(".", 1)[-1]
        if last in _REWRAP and callee.split(".")[0] in ("torch", "Variable", "Tensor"):
            return Diagnostic("graph-break", value, f"`{name}` is re-wrapped with `{callee}(...)`: it carries no gradient "
                              "back to the model")
        if last in _LEAVES_GRAPH and isinstance(value.func, ast.Attribute):
            return Diagnostic("graph-break", value, f"`{name}` ends in `.{last}()`: the loss leaves autograd before backward()")
    elif isinstance(value, ast.Attribute) and value.attr == "data":
        return Diagnostic("graph-break", value, f"`{name}` is taken from `.data`: it carries no gradient")
    return None
