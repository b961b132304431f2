"""Loss-input rules: double softmax, double sigmoid, NLL without log-softmax."""

from __future__ import annotations

from ..facts import Facts
from .common import Context, Diagnostic, classify, loss_kind

_WHAT = {"softmax": "softmax output", "log_softmax": "log-softmax output", "sigmoid": "sigmoid output",
         "logits": "raw Linear output"}


def loss_inputs(facts: Facts, ctx: Context, diags: list[Diagnostic]) -> None:
    for scope in facts.scopes:
        for call in scope.calls:
            kind = loss_kind(call, ctx)
            if kind is None or not call.node.args:
                continue
            arg = call.node.args[0]
            held = classify(arg, scope, call.order, ctx)
            if kind == "ce" and held == "softmax":
                diags.append(Diagnostic("double-softmax", call.node,
                                        f"`{call.name}` receives a {_WHAT[held]}; cross-entropy applies log_softmax itself"))
            elif kind == "ce" and held == "log_softmax":
                diags.append(Diagnostic("double-softmax", call.node, f"`{call.name}` receives a {_WHAT[held]}; "
                                        "cross-entropy applies log_softmax again (redundant, numerically harmless)",
                                        severity="info"))
            elif kind == "bce_logits" and held == "sigmoid":
                diags.append(Diagnostic("double-sigmoid", call.node,
                                        f"`{call.name}` receives a sigmoid output; the with-logits loss applies sigmoid itself"))
            elif kind == "nll" and held in ("softmax", "sigmoid", "logits"):
                diags.append(Diagnostic("nll-without-log-softmax", call.node,
                                        f"`{call.name}` receives a {_WHAT[held]}; nll_loss expects log-probabilities"))


RULES = [loss_inputs]
