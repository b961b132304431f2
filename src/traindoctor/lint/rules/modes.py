"""Train/eval mode rules."""

from __future__ import annotations

import ast
import re
from bisect import bisect_left, bisect_right

from ..facts import Facts
from ..registry import rule
from .common import Context, Diagnostic


def _mode_calls(ctx: Context) -> tuple[dict[str, ast.Call], set[str]]:
    """The names `.eval()` (or `.train(False)`) is called on, with its first such call, and the
    names `.train()` is called on."""
    evals: dict[str, ast.Call] = {}
    trains = set()
    for scope in ctx.facts.scopes:
        for c in scope.calls:
            if c.attr == "eval" and not c.node.args:
                evals.setdefault(c.base, c.node)
            elif c.attr == "train" and (not c.node.args or getattr(c.node.args[0], "value", None) is True):
                trains.add(c.base)
            elif c.attr == "train" and c.node.args and getattr(c.node.args[0], "value", None) is False:
                evals.setdefault(c.base, c.node)
    return evals, trains


def _model_like(name: str, ctx: Context) -> bool:
    built = ctx.constructed(name)
    last = (built or name).rsplit(".", 1)[-1]
    if built and (last in ctx.facts.classes or built.startswith(("nn.", "torch.nn.")) or "from_pretrained" in built):
        return not last.endswith("Loss")
    return any(h in name.rsplit(".", 1)[-1].lower() for h in ("model", "net", "encoder", "decoder", "classifier"))


def _trained_models(ctx: Context) -> set[str]:
    """Model-like names called inside loops that also call backward(): the models being trained."""
    names = set()
    for scope in ctx.facts.scopes:
        for loop in scope.loops:
            calls = scope.in_loop[loop]
            if any(c.attr == "backward" for c in calls):
                names |= {c.name for c in calls if c.name and "." not in c.name.replace("self.", "") and _model_like(c.name, ctx)}
    return names


_MODE_LAYERS = re.compile(r"Dropout|BatchNorm|dropout|batch_norm")


def _may_have_mode_layers(name: str, ctx: Context) -> bool:
    """False only when the model's class is found (this file or a sibling module) without dropout/batch norm."""
    built = ctx.constructed(name).rsplit(".", 1)[-1]
    cls = ctx.facts.classes.get(built)
    if cls is not None:
        return bool(_MODE_LAYERS.search(ast.unparse(cls)))
    sibling = ctx.sibling_class_source(built) if built else None
    return sibling is None or bool(_MODE_LAYERS.search(sibling))


def _evaluated_in_train_mode(facts: Facts, ctx: Context, trained: set[str]) -> Diagnostic | None:
    """The first no_grad block calling a trained model that may hold dropout or batch norm."""
    for scope in facts.scopes:
        evaluated = sorted((c for c in scope.calls if c.no_grad and c.name in trained), key=lambda c: c.node.lineno)
        lines = [c.node.lineno for c in evaluated]
        for block in scope.no_grad_blocks:
            inside = evaluated[bisect_left(lines, block.lineno):bisect_right(lines, block.end_lineno or block.lineno)]
            first = min(inside, key=lambda c: c.order, default=None)
            if first is not None and _may_have_mode_layers(first.name, ctx):
                return Diagnostic("eval-in-train-mode", first.node,
                                  f"`{first.name}` runs under no_grad for evaluation, but nothing in this file calls "
                                  f"`.eval()`: dropout and batch norm stay in training mode", severity="warning")
    return None


@rule("eval-in-train-mode")
def eval_in_train_mode(facts: Facts, ctx: Context, diags: list[Diagnostic]) -> None:
    """
    ## How it decides
    A model that is trained in this file (called in a loop with backward) is called under
    `torch.no_grad()` / `inference_mode()`, and nothing in the file calls `.eval()` or
    `.train(False)`. Models whose class is found (this file, or `from module import Class` next to
    it) without dropout or batch norm are exempt. Reported as a warning: a static rule cannot see
    the layers of every model.

    ## Known false negatives
    eval() called on some other object satisfies the rule; evaluation in another file.

    ## Known false positives
    A no_grad forward that must stay in train mode (e.g. a BN-statistics refresh) in a file that
    never calls eval().
    """
    evals, _ = ctx.once(_mode_calls)
    trained = ctx.once(_trained_models)
    found = _evaluated_in_train_mode(facts, ctx, trained) if trained and not evals else None
    if found:
        diags.append(found)


@rule("train-in-eval-mode")
def train_in_eval_mode(facts: Facts, ctx: Context, diags: list[Diagnostic]) -> None:
    """
    ## How it decides
    A trained model has `.eval()` called on it in this file and nothing calls `.train()` at all.

    ## Known false negatives
    train() called on some other object satisfies the rule.

    ## Known false positives
    None known.
    """
    evals, trains = ctx.once(_mode_calls)
    if trains:
        return
    stuck = sorted(evals.keys() & ctx.once(_trained_models))
    if stuck:
        off = evals[stuck[0]]
        diags.append(Diagnostic("train-in-eval-mode", off,
                                f"`{ast.unparse(off)}` is called and `{stuck[0]}` is trained, but nothing calls `.train()`: "
                                "training after the first evaluation runs in eval mode"))
