"""Data-split, JAX, security and autograd-misuse rules."""

from __future__ import annotations

import ast
import re

from ..facts import Facts, assigned_between, dotted, value_before
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
    Evaluation data under other names.

    ## Known false positives
    A variable named like evaluation data that is really training data.
    """
    for scope in facts.scopes:
        for c in scope.calls:
            if c.attr in ("fit", "fit_transform") and c.node.args:
                text = ast.unparse(c.node.args[0])
                if _EVAL_DATA.search(text) and "train" not in text.lower():
                    diags.append(Diagnostic("test-fit-leakage", c.node, f"`{c.name}({text})` fits on evaluation data; "
                                            "fit on the training split and only transform the others"))


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
    `.squeeze()` with no argument passed directly to a call whose name contains loss or criterion.

    ## Known false negatives
    squeeze() assigned to a variable first.

    ## Known false positives
    None known.
    """
    for scope in facts.scopes:
        for c in scope.calls:
            if "loss" not in c.name.lower() and "criterion" not in c.name.lower():
                continue
            for arg in c.node.args:
                if isinstance(arg, ast.Call) and isinstance(arg.func, ast.Attribute) and arg.func.attr == "squeeze" \
                        and not arg.args and not arg.keywords:
                    diags.append(Diagnostic("squeeze-without-dim", arg, f"`.squeeze()` without a dim feeds `{c.name}`: "
                                            "a batch of one sample loses its batch dimension too"))


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
    In one function, the same key name is the first argument of two `jax.random.*` calls (split
    included) with no reassignment between them. Active only when the file imports jax.

    ## Known false negatives
    Keys passed through containers or other functions; one call that reuses a key on every iteration
    of a loop.

    ## Known false positives
    None known.
    """
    aliases = _jax_random_aliases(facts.tree)
    if not aliases:
        return
    for scope in facts.scopes:
        last_use: dict[str, int] = {}
        for c in scope.calls:
            if c.base not in aliases or not c.node.args or not isinstance(c.node.args[0], ast.Name):
                continue
            key = c.node.args[0].id
            if key in last_use and not assigned_between(scope, key, last_use[key], c.order):
                diags.append(Diagnostic("prng-key-reuse", c.node, f"PRNG key `{key}` was already consumed; split it first"))
            last_use[key] = c.order


@rule("jit-side-effect")
def jit_side_effect(facts: Facts, ctx: Context, diags: list[Diagnostic]) -> None:
    """
    ## How it decides
    A function decorated with `jax.jit` / `jit` / `partial(jax.jit, ...)` calls `print`, appends to
    a list it did not create, or declares a global.

    ## Known false negatives
    Side effects through helper functions.

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
        for c in scope.calls:
            if c.name == "print" or (c.attr == "append" and c.base and c.base not in scope.assigns):
                diags.append(Diagnostic("jit-side-effect", c.node, f"`{c.name}(...)` in a jitted function runs once, at trace time"))
        for node in fn.body:
            if isinstance(node, ast.Global):
                diags.append(Diagnostic("jit-side-effect", node, "a jitted function assigns a global: it happens at trace time only"))


@rule("unsafe-torch-load")
def unsafe_torch_load(facts: Facts, ctx: Context, diags: list[Diagnostic]) -> None:
    """
    ## How it decides
    `torch.load(..., weights_only=False)` is a warning; `torch.load` without `weights_only` is info
    (safe by default from torch 2.6).

    ## Known false negatives
    Aliased imports of `torch.load`.

    ## Known false positives
    None known.
    """
    for scope in facts.scopes:
        for c in scope.calls:
            if c.name != "torch.load":
                continue
            flag = next((k.value for k in c.node.keywords if k.arg == "weights_only"), None)
            if isinstance(flag, ast.Constant) and flag.value is False:
                diags.append(Diagnostic("unsafe-torch-load", c.node, "`torch.load(..., weights_only=False)` unpickles arbitrary "
                                        "code from the file"))
            elif flag is None:
                diags.append(Diagnostic("unsafe-torch-load", c.node, "`torch.load` without weights_only=True: safe by default "
                                        "from torch 2.6, arbitrary code execution before", severity="info"))


@rule("inplace-on-leaf")
def inplace_on_leaf(facts: Facts, ctx: Context, diags: list[Diagnostic]) -> None:
    """
    ## How it decides
    A name assigned from a call with `requires_grad=True` is later updated in place (`+=`,
    `x[...] =`, or an in-place method ending in `_`) outside `torch.no_grad()`, before anything
    else is assigned to it.

    ## Known false negatives
    Parameters created as `nn.Parameter`.

    ## Known false positives
    None known (autograd raises on this).
    """
    for scope in facts.scopes:
        leaves = {name for name, values in scope.assigns.items() if any(_requires_grad(v) for _, v in values)}
        if not leaves:
            continue
        for name, node, no_grad, at in scope.inplace:
            if name in leaves and not no_grad and _requires_grad(value_before(scope, name, at)):
                diags.append(Diagnostic("inplace-on-leaf", node, f"in-place update of `{name}`, a leaf that requires grad, "
                                        "outside torch.no_grad(): autograd raises"))
        for c in scope.calls:
            if c.base in leaves and not c.no_grad and c.attr.endswith("_") and not c.attr.endswith("__") \
                    and c.attr not in _INPLACE_SAFE and _requires_grad(value_before(scope, c.base, c.order)):
                diags.append(Diagnostic("inplace-on-leaf", c.node, f"`{c.name}()` modifies `{c.base}` in place, a leaf that "
                                        "requires grad, outside torch.no_grad(): autograd raises"))


def _requires_grad(value: ast.expr | None) -> bool:
    """Whether `value` is a call creating a tensor with `requires_grad=True`."""
    return isinstance(value, ast.Call) and any(k.arg == "requires_grad" and getattr(k.value, "value", None) is True
                                               for k in value.keywords)
