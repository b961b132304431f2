"""Loss-input rules: double softmax, double sigmoid, NLL without log-softmax."""

from __future__ import annotations

from ..facts import CallSite, Facts
from ..registry import rule
from .common import Context, Diagnostic, classify, loss_kind

_WHAT = {"softmax": "softmax output", "log_softmax": "log-softmax output", "sigmoid": "sigmoid output",
         "logits": "raw Linear output"}


# A loss these rules judge is named in the file (built, or called functionally) by one of these.
_LOSS_WORDS = ("CrossEntropyLoss", "NLLLoss", "BCEWithLogitsLoss", "cross_entropy", "nll_loss", "_with_logits")


def _loss_inputs(ctx: Context) -> list[tuple[CallSite, str, str | None]]:
    """Each loss call of the file, its kind ('ce', 'nll', 'bce_logits') and what its first argument holds."""
    out = []
    if not ctx.mentions(*_LOSS_WORDS):
        return out
    for scope in ctx.facts.scopes:
        for call in scope.calls:
            if not call.node.args:
                continue  # no input to judge
            kind = loss_kind(call, ctx)
            if kind is not None:
                out.append((call, kind, classify(call.node.args[0], scope, ctx)))
    return out


def _fed(ctx: Context, kind: str, held: tuple[str, ...]) -> list[tuple[CallSite, str]]:
    return [(call, h) for call, k, h in ctx.once(_loss_inputs) if k == kind and h in held]


@rule("double-softmax")
def double_softmax(facts: Facts, ctx: Context, diags: list[Diagnostic]) -> None:
    """
    ## How it decides
    The first argument of `F.cross_entropy` / a `nn.CrossEntropyLoss` instance holds a softmax output
    on every path it comes from (lint/flow.py): a softmax call, a name or `self.` attribute assigned
    one, a helper's return, what every caller passes for a parameter, or the output of a model whose
    `nn.Sequential` ends in `nn.Softmax` or whose `forward` returns a softmax — the model built here,
    by a factory, or a class or factory imported from a module next to the file. The loss itself may
    be built anywhere the flow reaches (a factory — imported too —, `__init__`, a caller's argument). Reshapes (`.view`,
    `.squeeze`) and wrappers (`torch.compile`, `DataParallel`, `.to(device)`) are looked through.

    ## Known false negatives
    Models from other packages or built dynamically; values passed through containers; a parameter
    some caller fills with something unknown.

    ## Known false positives
    None known: the argument must provably hold a softmax output.
    """
    for call, held in _fed(ctx, "ce", ("softmax", "log_softmax")):
        if held == "softmax":
            diags.append(Diagnostic("double-softmax", call.node,
                                    f"`{call.name}` receives a {_WHAT[held]}; cross-entropy applies log_softmax itself"))
        else:
            diags.append(Diagnostic("double-softmax", call.node, f"`{call.name}` receives a {_WHAT[held]}; "
                                    "cross-entropy applies log_softmax again (redundant, numerically harmless)",
                                    severity="info"))


@rule("double-sigmoid")
def double_sigmoid(facts: Facts, ctx: Context, diags: list[Diagnostic]) -> None:
    """
    ## How it decides
    Same data flow as double-softmax (across functions, methods, classes and sibling modules), for
    `binary_cross_entropy_with_logits` / `nn.BCEWithLogitsLoss` and sigmoid.

    ## Known false negatives
    As for double-softmax.

    ## Known false positives
    None known.
    """
    for call, _ in _fed(ctx, "bce_logits", ("sigmoid",)):
        diags.append(Diagnostic("double-sigmoid", call.node,
                                f"`{call.name}` receives a sigmoid output; the with-logits loss applies sigmoid itself"))


@rule("nll-without-log-softmax")
def nll_without_log_softmax(facts: Facts, ctx: Context, diags: list[Diagnostic]) -> None:
    """
    ## How it decides
    `nll_loss` / `nn.NLLLoss` receives, on every path (same data flow as double-softmax), a softmax
    or sigmoid output, or raw `nn.Linear` logits: an `nn.Sequential` ending in `nn.Linear`, or a
    `forward` returning a Linear layer's output.

    ## Known false negatives
    Models from other packages; logits computed by other means than an `nn.Linear` layer.

    ## Known false positives
    None known.
    """
    for call, held in _fed(ctx, "nll", ("softmax", "sigmoid", "logits")):
        diags.append(Diagnostic("nll-without-log-softmax", call.node,
                                f"`{call.name}` receives a {_WHAT[held]}; nll_loss expects log-probabilities"))
