"""Train/eval mode rules."""

from __future__ import annotations

import ast

from ..backward import may_run_backward
from ..facts import CallSite, Facts, Scope, dotted
from ..registry import rule
from .common import Context, Diagnostic


def _mode_calls(ctx: Context) -> tuple[list[CallSite], bool]:
    """The `.eval()` (or `.train(False)`) calls of the file — those of the helpers it calls, imported
    ones included, spliced in — and whether any of them calls `.train()`."""
    evals: list[CallSite] = []
    trains = False
    for calls in ctx.once(_spliced_scopes).values():
        for c in calls:
            if c.attr == "eval" and not c.node.args:
                evals.append(c)
            elif c.attr == "train":
                flag = getattr(c.node.args[0], "value", None) if c.node.args else True
                if flag is False:
                    evals.append(c)
                elif flag is True:
                    trains = True
    return evals, trains


def _model_like(name: str, ctx: Context) -> bool:
    built = ctx.constructed(name)
    last = (built or name).rsplit(".", 1)[-1]
    if built and (last in ctx.facts.classes or built.startswith(("nn.", "torch.nn.")) or "from_pretrained" in built):
        return not last.endswith("Loss")
    return any(h in name.rsplit(".", 1)[-1].lower() for h in ("model", "net", "encoder", "decoder", "classifier"))


def _identity(expr: ast.expr, scope: Scope | None, ctx: Context) -> set:
    """What a model expression is: the modules it resolves to, and its name as the file spells it (two
    names of one model match through the modules; one name matches itself even where it is unresolved)."""
    modules = ctx.modules(expr, scope) if scope is not None else ()
    return {*modules, dotted(expr)}


def _trained_models(ctx: Context) -> set:
    """The models called inside loops that also call backward() (helpers spliced in): their identities."""
    trained: set = set()
    if not ctx.mentions("backward"):
        return trained
    for scope in ctx.facts.scopes:
        for loop in scope.loops:
            if not any(may_run_backward(ctx.flow, c) for c in scope.in_loop[loop]):
                continue  # trains nothing: not spliced
            calls = ctx.spliced(scope.in_loop[loop])
            if any(c.attr == "backward" for c in calls):
                for c in calls:
                    if c.name and "." not in c.name.replace("self.", "") and _model_like(c.name, ctx):
                        trained |= _identity(c.node.func, c.scope, ctx)
    return trained


def _may_have_mode_layers(call: CallSite, ctx: Context) -> bool:
    """False only when every module the call may reach is known (its class, its Sequential) and holds
    neither dropout nor batch norm; an unknown model keeps the benefit of the doubt."""
    flags = [ctx.flow.has_mode_layers(m) for m in ctx.modules(call.node.func, call.scope)] if call.scope else []
    return not flags or any(f is not False for f in flags)


def _evaluated_in_train_mode(facts: Facts, ctx: Context, trained: set) -> Diagnostic | None:
    """The first call of a trained model that runs under no_grad (a `with`, a decorator, or a helper
    every caller runs under no_grad) and may hold dropout or batch norm."""
    for calls in ctx.once(_spliced_scopes).values():
        for c in calls:
            if c.name and ctx.flow.without_grad(c) and _identity(c.node.func, c.scope, ctx) & trained and _may_have_mode_layers(c, ctx):
                return Diagnostic("eval-in-train-mode", ctx.here(c),
                                  f"`{c.name}` runs under no_grad for evaluation, but nothing in this file calls "
                                  f"`.eval()`: dropout and batch norm stay in training mode", severity="warning")
    return None


def _training_follows(site: CallSite, ctx: Context, seen: frozenset = frozenset()) -> bool:
    """Whether training (a backward()) can run after `site`: in a loop around it that trains, later in
    its function, or — for a helper — after one of its call sites. A function nothing in the file
    calls is assumed to be followed by training (today's judgement, for want of knowing)."""
    scope = site.scope
    if not ctx.flow.owns(scope):  # spliced in from an imported helper: what follows the call that runs it
        return _training_follows(site.via, ctx, seen)
    calls = ctx.once(_spliced_scopes).get(scope, ())
    # a later call (>= 1 position on: what `site` itself runs is spliced in between), or one in a loop around it
    if any(c.attr == "backward" and (c.order >= site.order + 1 or set(c.loops) & set(site.loops)) for c in calls):
        return True
    fn = scope.node
    if isinstance(fn, ast.Module) or fn in seen:
        return False
    callers = ctx.flow.callers().get(fn)
    if not callers:
        return True
    return any(_training_follows(c, ctx, seen | {fn}) for c in callers)


def _spliced_scopes(ctx: Context) -> dict[Scope, list[CallSite]]:
    return {scope: ctx.spliced(scope.calls) for scope in ctx.facts.scopes}


@rule("eval-in-train-mode")
def eval_in_train_mode(facts: Facts, ctx: Context, diags: list[Diagnostic]) -> None:
    """
    ## How it decides
    A model that is trained in this file (called in a loop with backward, helpers included) is
    called with gradients off — a `with torch.no_grad()` / `inference_mode()`, a function decorated
    with one, or a helper every caller runs under one — and nothing in the file calls `.eval()` or
    `.train(False)` (functions imported from a module next to it count: their calls are spliced in
    like the file's own helpers). The model is the same object wherever it is called: followed through
    parameters, `self.` attributes and factories. Models whose layers are known — a class of this
    file or a module next to it (and the classes and Sequentials it builds), an `nn.Sequential` —
    and hold neither dropout nor batch norm are exempt; an unknown model is not. Reported as a
    warning: a static rule cannot see the layers of every model.

    ## Known false negatives
    eval() called on some other object satisfies the rule; evaluation in a module not imported by name.

    ## Known false positives
    A no_grad forward that must stay in train mode (e.g. a BN-statistics refresh) in a file that
    never calls eval().
    """
    trained = ctx.once(_trained_models)  # first: a file that trains nothing is not spliced at all
    found = _evaluated_in_train_mode(facts, ctx, trained) if trained and not ctx.once(_mode_calls)[0] else None
    if found:
        diags.append(found)


@rule("train-in-eval-mode")
def train_in_eval_mode(facts: Facts, ctx: Context, diags: list[Diagnostic]) -> None:
    """
    ## How it decides
    A trained model (the same object, followed through parameters and attributes) has `.eval()`
    called on it, nothing in the file calls `.train()`, and training can run after the eval():
    the eval() sits in a loop that also trains (helpers included), a backward follows it in its
    function, or — for a helper — after one of its call sites (a helper nothing calls is assumed to
    be followed by training; an eval() in an imported helper is judged at the call of the helper).
    An eval() only after the last training loop (a final test) is fine,
    and so is a model whose known layers hold neither dropout nor batch norm.

    ## Known false negatives
    train() called on some other object satisfies the rule; an eval() whose training resumes in
    another file.

    ## Known false positives
    None known.
    """
    trained = ctx.once(_trained_models)
    if not trained:
        return
    evals, trains = ctx.once(_mode_calls)
    if trains:
        return
    for off in evals:
        receiver = off.node.func.value if isinstance(off.node.func, ast.Attribute) else None
        if receiver is None or not _identity(receiver, off.scope, ctx) & trained:
            continue
        known = [ctx.flow.has_mode_layers(m) for m in ctx.modules(receiver, off.scope)]
        if known and not any(f is not False for f in known):
            continue  # neither dropout nor batch norm: the mode changes nothing
        if _training_follows(off, ctx):
            diags.append(Diagnostic("train-in-eval-mode", ctx.here(off),
                                    f"`{ast.unparse(off.node)}` is called and `{ast.unparse(receiver)}` is trained, but nothing "
                                    "calls `.train()`: training after the first evaluation runs in eval mode"))
            return
