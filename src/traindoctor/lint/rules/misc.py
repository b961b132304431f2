"""Data-split, JAX, security and autograd-misuse rules."""

from __future__ import annotations

import ast
import re

from ..facts import CallSite, Facts, assigned_between, assignment_before, dotted, value_before
from ..flow import argument_at, parameter_sources, sources
from ..registry import rule
from .common import Context, Diagnostic

_EVAL_DATA = re.compile(r"(^|[^a-z])(test|val|valid|validation|holdout|dev)([^a-z]|$)", re.I)
_TIME_SIGNS = ("to_datetime", "rolling", "shift", "TimeSeriesSplit")
_INPLACE_SAFE = {"requires_grad_", "retain_grad", "share_memory_"}


@rule("test-fit-leakage")
def test_fit_leakage(facts: Facts, ctx: Context, diags: list[Diagnostic]) -> None:
    """
    ## How it decides
    `.fit(...)` / `.fit_transform(...)` whose first argument's text names test, val, valid,
    validation, holdout or dev data (and not train).

    ## Known false negatives
    Evaluation data under other names; data passed through more than one function.

    ## Known false positives
    A variable named like evaluation data that is really training data.
    """
    for scope in facts.scopes:
        for c in scope.calls:
            if c.attr in ("fit", "fit_transform") and c.node.args:
                text = ast.unparse(c.node.args[0])
                if _names_eval_data(text):
                    diags.append(Diagnostic("test-fit-leakage", c.node, f"`{c.name}({text})` fits on evaluation data; "
                                            "fit on the training split and only transform the others"))
                elif isinstance(c.node.args[0], ast.Name):
                    diags += _fitted_through_parameter(c, c.node.args[0].id, ctx)


def _names_eval_data(text: str) -> bool:
    return bool(_EVAL_DATA.search(text)) and "train" not in text.lower()


def _fitted_through_parameter(fit: CallSite, name: str, ctx: Context) -> list[Diagnostic]:
    """A helper fits on its parameter `name`: each call of the helper that passes evaluation data."""
    fn = fit.scope.node
    if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) or name not in (a.arg for a in fn.args.args) \
            or assignment_before(fit.scope, name, fit.order):
        return []
    out = []
    for site in ctx.flow.callers().get(fn, ()):
        arg = argument_at(site, fn, name, ctx.flow)
        text = ast.unparse(arg) if arg is not None else ""
        if _names_eval_data(text):
            out.append(Diagnostic("test-fit-leakage", site.node, f"`{site.name}({text}, ...)` passes evaluation data to "
                                  f"`{fit.name}(...)`; fit on the training split and only transform the others"))
    return out


@rule("shuffled-time-split")
def shuffled_time_split(facts: Facts, ctx: Context, diags: list[Diagnostic]) -> None:
    """
    ## How it decides
    `train_test_split` without `shuffle=False` in a file that handles time-ordered data
    (`to_datetime`, `rolling`, `shift`, `TimeSeriesSplit`, or `sort_values` on a date/time column).

    ## Known false negatives
    Time series without those markers.

    ## Known false positives
    A shuffled split that is intended (i.i.d. rows that merely carry a date).
    """
    calls = [c for s in facts.scopes for c in s.calls]
    timed = any(c.attr in _TIME_SIGNS or (c.attr == "sort_values" and re.search(r"date|time", ast.unparse(c.node), re.I))
                for c in calls)
    if not timed:
        return
    for c in calls:
        if c.attr == "train_test_split":
            shuffle = next((k.value for k in c.node.keywords if k.arg == "shuffle"), None)
            if not (isinstance(shuffle, ast.Constant) and shuffle.value is False):
                diags.append(Diagnostic("shuffled-time-split", c.node, "`train_test_split` shuffles rows of time-ordered data; "
                                        "pass shuffle=False (or split by time)"))


@rule("squeeze-without-dim")
def squeeze_without_dim(facts: Facts, ctx: Context, diags: list[Diagnostic]) -> None:
    """
    ## How it decides
    `.squeeze()` with no argument feeds a call whose name contains loss or criterion: passed directly,
    or as the value of every path the argument comes from (a variable, a helper's return — also one
    imported from a module next to the file, then reported at the loss call —, a parameter).

    ## Known false negatives
    Losses under other names; a squeeze on only some of the paths.

    ## Known false positives
    None known.
    """
    for scope in facts.scopes:
        for c in scope.calls:
            name = c.name.lower()
            if "loss" not in name and "criterion" not in name:
                continue
            for arg in c.node.args:
                origins = [(arg, scope)] if _bare_squeeze(arg) else [(v, s) for s, v in sources(ctx.flow, arg, scope) or ()]
                if origins and all(_bare_squeeze(v) for v, _ in origins):  # every path squeezes without a dim
                    diags += [Diagnostic("squeeze-without-dim", v if ctx.flow.owns(s) else c.node,  # another file's: at the call
                                         f"`.squeeze()` without a dim feeds `{c.name}`: "
                                         "a batch of one sample loses its batch dimension too") for v, s in origins]


def _bare_squeeze(node: ast.expr) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "squeeze" \
        and not node.args and not node.keywords


def _jax_random_aliases(tree: ast.Module) -> set[str]:
    aliases = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name == "jax":
                    aliases.add(f"{a.asname or 'jax'}.random")
                elif a.name == "jax.random":
                    aliases.add(a.asname or "jax.random")
        elif isinstance(node, ast.ImportFrom) and node.module == "jax":
            aliases |= {a.asname or a.name for a in node.names if a.name == "random"}
    return aliases


@rule("prng-key-reuse")
def prng_key_reuse(facts: Facts, ctx: Context, diags: list[Diagnostic]) -> None:
    """
    ## How it decides
    In one function, the same key name is consumed twice with no reassignment between: as the first
    argument of a `jax.random.*` call (split included), or passed to a helper of this file that
    consumes that parameter (directly or through its own helpers). Active only when the file imports jax.

    ## Known false negatives
    Keys passed through containers or across files; one call that reuses a key on every iteration
    of a loop.

    ## Known false positives
    None known.
    """
    aliases = _jax_random_aliases(facts.tree)
    if not aliases:
        return
    consumes: dict[ast.AST, set[str]] = {}
    for scope in facts.scopes:
        last_use: dict[str, int] = {}
        for c in scope.calls:
            for key in _keys_consumed(c, aliases, ctx, consumes):
                if key in last_use and not assigned_between(scope, key, last_use[key], c.order):
                    diags.append(Diagnostic("prng-key-reuse", c.node, f"PRNG key `{key}` was already consumed; split it first"))
                if any(value is c.node for _, value in scope.assigns.get(key, ())):
                    last_use.pop(key, None)  # `key, sub = split(key)`: the key is fresh again
                else:
                    last_use[key] = c.order


def _keys_consumed(call: CallSite, aliases: set[str], ctx: Context, consumes: dict[ast.AST, set[str]]) -> list[str]:
    """The key names a call consumes: the first argument of a `jax.random.*` call, or what it passes
    for a parameter that a helper of this file consumes."""
    if call.base in aliases:
        first = call.node.args[0] if call.node.args else None
        return [first.id] if isinstance(first, ast.Name) else []
    fn = ctx.flow.callee(call)
    if fn is None:
        return []
    out = []
    for param in _consumed_parameters(fn, aliases, ctx, consumes):
        arg = argument_at(call, fn, param, ctx.flow)
        if isinstance(arg, ast.Name):
            out.append(arg.id)
    return out


def _consumed_parameters(fn: ast.AST, aliases: set[str], ctx: Context, consumes: dict[ast.AST, set[str]]) -> set[str]:
    """The parameters of `fn` it consumes as keys before reassigning them (memoised; recursion adds nothing)."""
    if fn not in consumes:
        consumes[fn] = set()
        scope = ctx.facts.by_node[fn]
        params = {a.arg for a in fn.args.args}
        consumes[fn] = {k for c in scope.calls for k in _keys_consumed(c, aliases, ctx, consumes)
                        if k in params and not assigned_between(scope, k, -1, c.order)}
    return consumes[fn]


@rule("jit-side-effect")
def jit_side_effect(facts: Facts, ctx: Context, diags: list[Diagnostic]) -> None:
    """
    ## How it decides
    A function decorated with `jax.jit` / `jit` / `partial(jax.jit, ...)` calls `print`, appends to
    a list it did not create, or declares a global — or calls a helper of this file that prints or
    declares a global (directly or through its own helpers).

    ## Known false negatives
    Appends made by helpers; side effects in other files.

    ## Known false positives
    Deliberate trace-time prints; a function under another library's decorator named `jit`
    (`numba.jit`; `numba.njit` is told apart).
    """
    for scope in facts.scopes:
        fn = scope.node
        decorators = [dotted(d.func if isinstance(d, ast.Call) else d) + (ast.unparse(d) if isinstance(d, ast.Call) else "")
                      for d in getattr(fn, "decorator_list", ())]
        if not any(d == "jit" or d.endswith(".jit") or "jit" in d and "partial" in d for d in decorators):
            continue
        impure: dict[ast.AST, bool] = {}
        for c in scope.calls:
            if c.name == "print" or (c.attr == "append" and c.base and c.base not in scope.assigns):
                diags.append(Diagnostic("jit-side-effect", c.node, f"`{c.name}(...)` in a jitted function runs once, at trace time"))
            elif (helper := ctx.flow.callee(c)) is not None and _prints_or_globals(helper, ctx, impure):
                diags.append(Diagnostic("jit-side-effect", c.node, f"`{c.name}(...)` prints or assigns a global, and runs "
                                        "inside a jitted function: once, at trace time"))
        for node in fn.body:
            if isinstance(node, ast.Global):
                diags.append(Diagnostic("jit-side-effect", node, "a jitted function assigns a global: it happens at trace time only"))


def _prints_or_globals(fn: ast.AST, ctx: Context, memo: dict[ast.AST, bool]) -> bool:
    if fn not in memo:
        memo[fn] = False  # recursion adds nothing
        scope = ctx.facts.by_node[fn]
        memo[fn] = any(isinstance(n, ast.Global) for n in fn.body) or any(
            c.name == "print" or (h := ctx.flow.callee(c)) is not None and _prints_or_globals(h, ctx, memo) for c in scope.calls)
    return memo[fn]


@rule("unsafe-torch-load")
def unsafe_torch_load(facts: Facts, ctx: Context, diags: list[Diagnostic]) -> None:
    """
    ## How it decides
    `torch.load(..., weights_only=False)` is a warning — also when the flag is a variable or a
    parameter that holds False on every path (its assignments, what every caller passes);
    `torch.load` without `weights_only` is info (safe by default from torch 2.6).

    ## Known false negatives
    Aliased imports of `torch.load`; a flag read from configuration.

    ## Known false positives
    None known.
    """
    for scope in facts.scopes:
        for c in scope.calls:
            if c.name != "torch.load":
                continue
            flag = next((k.value for k in c.node.keywords if k.arg == "weights_only"), None)
            if isinstance(flag, ast.Name):  # a flag set elsewhere: every value it may hold
                found = sources(ctx.flow, flag, scope) or ()
                flag = found[0][1] if found and all(_is_false(v) for _, v in found) else flag
            if _is_false(flag):
                diags.append(Diagnostic("unsafe-torch-load", c.node, "`torch.load(..., weights_only=False)` unpickles arbitrary "
                                        "code from the file"))
            elif flag is None:
                diags.append(Diagnostic("unsafe-torch-load", c.node, "`torch.load` without weights_only=True: safe by default "
                                        "from torch 2.6, arbitrary code execution before", severity="info"))


@rule("inplace-on-leaf")
def inplace_on_leaf(facts: Facts, ctx: Context, diags: list[Diagnostic]) -> None:
    """
    ## How it decides
    A name assigned from a call with `requires_grad=True` — or a parameter every caller in the file
    passes such a leaf — is later updated in place (`+=`, `x[...] =`, or an in-place method ending
    in `_`) outside `torch.no_grad()` (a `with` block, the function's decorator, or every caller's
    no_grad), before anything else is assigned to it.

    ## Known false negatives
    Parameters created as `nn.Parameter`; leaves passed across files.

    ## Known false positives
    None known (autograd raises on this).
    """
    if not ctx.mentions("requires_grad"):
        return  # no leaf is created in the file, nor returned by a module it imports from
    for scope in facts.scopes:
        updated = {name for name, _, no_grad, _ in scope.inplace if not no_grad} | {c.base for c in scope.calls if _inplace(c)}
        if not updated:
            continue  # nothing updated in place with gradients on: no leaf to look for
        leaves = {name for name in updated if any(_requires_grad(v) for _, v in scope.assigns.get(name, ()))}
        passed = _leaf_parameters(scope, ctx, updated)
        if not leaves and not passed:
            continue

        def leaf(name: str, at: int) -> bool:
            value = value_before(scope, name, at)
            return _requires_grad(value) if value is not None else name in passed

        for name, node, no_grad, at in scope.inplace:
            if (name in leaves or name in passed) and not no_grad and leaf(name, at):
                diags.append(Diagnostic("inplace-on-leaf", node, f"in-place update of `{name}`, a leaf that requires grad, "
                                        "outside torch.no_grad(): autograd raises"))
        for c in scope.calls:
            if (c.base in leaves or c.base in passed) and _inplace(c) and leaf(c.base, c.order):
                diags.append(Diagnostic("inplace-on-leaf", c.node, f"`{c.name}()` modifies `{c.base}` in place, a leaf that "
                                        "requires grad, outside torch.no_grad(): autograd raises"))


def _inplace(c: CallSite) -> bool:
    """An in-place method (`x.add_()`) called with gradients on."""
    return not c.no_grad and c.attr.endswith("_") and not c.attr.endswith("__") and c.attr not in _INPLACE_SAFE


def _leaf_parameters(scope, ctx: Context, updated: set[str]) -> set[str]:
    """Parameters among `updated` every caller passes a leaf that requires grad, in a function whose
    callers do not all run it under no_grad (its decorator's or its own `with` blocks are judged per update)."""
    fn = scope.node
    if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) or not any(a.arg in updated for a in fn.args.args):
        return set()
    if not ctx.flow.callers().get(fn) or ctx.flow.runs_without_grad(fn):
        return set()
    out = set()
    callers = ctx.flow.callers()[fn]
    for a in fn.args.args:
        if a.arg not in updated or any(_passes_no_leaf(site, fn, a.arg, ctx) for site in callers):
            continue  # decided without following what the other callers pass
        found = parameter_sources(ctx.flow, fn, a.arg)
        if found and all(_requires_grad(v) for _, v in found):
            out.add(a.arg)
    return out


def _passes_no_leaf(site: CallSite, fn: ast.AST, name: str, ctx: Context) -> bool:
    """Whether a call passes for parameter `name` an expression that is where the value comes from
    (neither a name nor a call, which `sources` would follow) and that creates no leaf."""
    arg = argument_at(site, fn, name, ctx.flow)
    return arg is not None and not isinstance(arg, (ast.Name, ast.Call)) and not _requires_grad(arg)


def _is_false(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is False


def _requires_grad(value: ast.expr | None) -> bool:
    """Whether `value` is a call creating a tensor with `requires_grad=True`."""
    return isinstance(value, ast.Call) and any(k.arg == "requires_grad" and getattr(k.value, "value", None) is True
                                               for k in value.keywords)
