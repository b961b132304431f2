"""What the lint rules share: diagnostics, the file-wide bindings, and expression classification."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, TypeVar

from ..facts import CallSite, Facts, Scope, dotted, value_before

SOFTMAX = {"softmax", "Softmax()"}
LOG_SOFTMAX = {"log_softmax", "LogSoftmax()"}
SIGMOID = {"sigmoid", "Sigmoid()"}
_TAILS = {"Softmax": "softmax", "LogSoftmax": "log_softmax", "Sigmoid": "sigmoid", "Linear": "logits"}
# Methods that reshape or cast without changing what the values are.
_SAME_VALUES = {"squeeze", "unsqueeze", "view", "reshape", "flatten", "contiguous", "float", "double", "permute",
                "transpose", "to", "clone"}
OPTIMIZER_HINTS = ("opt", "optim")
_MOVES = {"to", "cuda", "cpu", "float", "half", "double", "bfloat16", "train", "eval", "to_empty"}
T = TypeVar("T")


@dataclass
class Diagnostic:
    code: str
    node: ast.AST
    message: str
    severity: str | None = None


class Context:
    """File-wide lookups, computed once per file and name: rules ask them per call."""

    def __init__(self, facts: Facts, path: str = ""):
        self.facts = facts
        self.path = path
        self.bindings: dict[str, list[ast.expr]] = {}
        for scope in facts.scopes:
            for name, values in scope.assigns.items():
                self.bindings.setdefault(name, []).extend(v for _, v in values)
        self._model_tail: dict[str, str | None] = {}
        self._constructed: dict[str, str] = {}
        self._siblings: dict[str, str | None] = {}
        self._zeroes_grad: dict[str, bool] = {}
        self._shared: dict[Callable, object] = {}

    def once(self, compute: Callable[[Context], T]) -> T:
        """`compute(self)`, computed once per file however many rules ask for it."""
        if compute not in self._shared:
            self._shared[compute] = compute(self)
        return self._shared[compute]  # type: ignore[return-value]

    def sibling_class_source(self, cls: str) -> str | None:
        """Source of class `cls` imported with `from module import cls` from a module next to this file."""
        if cls not in self._siblings:
            self._siblings[cls] = self._read_sibling_class(cls)
        return self._siblings[cls]

    def _read_sibling_class(self, cls: str) -> str | None:
        for node in self.facts.tree.body:
            if isinstance(node, ast.ImportFrom) and node.module and not node.level and any(a.name == cls for a in node.names):
                candidate = Path(self.path).parent / (node.module.replace(".", "/") + ".py")
                try:
                    tree = ast.parse(candidate.read_text())
                except (OSError, SyntaxError, ValueError):
                    return None
                found = next((n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == cls), None)
                return ast.unparse(found) if found is not None else None
        return None

    def helper_zeroes_grad(self, name: str) -> bool:
        """Whether `name` is a function of this file that calls zero_grad (walked once per name)."""
        if name not in self._zeroes_grad:
            helper = self.facts.functions.get(name)
            self._zeroes_grad[name] = helper is not None and any(
                isinstance(n, ast.Call) and dotted(n.func).endswith("zero_grad") for n in ast.walk(helper))
        return self._zeroes_grad[name]

    def constructed(self, name: str) -> str:
        """Dotted callee that built `name` (e.g. 'nn.CrossEntropyLoss'), or ''."""
        if name not in self._constructed:
            self._constructed[name] = self._first_construction(name)
        return self._constructed[name]

    def _first_construction(self, name: str) -> str:
        for value in map(_unmoved, self.bindings.get(name, ())):
            if isinstance(value, ast.Call):
                return dotted(value.func)
        return ""

    def model_tail(self, name: str) -> str | None:
        """'softmax' / 'log_softmax' / 'sigmoid' when the model called `name` ends in that layer."""
        if name in self._model_tail:
            return self._model_tail[name]
        self._model_tail[name] = None
        kind = None
        for value in map(_unmoved, self.bindings.get(name, ())):
            if isinstance(value, ast.Call):
                callee = dotted(value.func).rsplit(".", 1)[-1]
                if callee == "Sequential" and value.args and isinstance(value.args[-1], ast.Call):
                    kind = _TAILS.get(dotted(value.args[-1].func).rsplit(".", 1)[-1])
                elif callee in self.facts.classes:
                    kind = self._forward_tail(self.facts.classes[callee])
            if kind:
                break
        self._model_tail[name] = kind
        return kind

    def _forward_tail(self, cls: ast.ClassDef) -> str | None:
        forward = next((n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == "forward"), None)
        if forward is None:
            return None
        kinds = {classify_call(r.value, self) for r in ast.walk(forward) if isinstance(r, ast.Return) and isinstance(r.value, ast.Call)}
        return kinds.pop() if len(kinds) == 1 else None


def _unmoved(value: ast.expr) -> ast.expr:
    """`Net(...).to(device)`, `.cuda()`, `.float()`: the module is what was constructed inside."""
    while isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) \
            and value.func.attr in _MOVES and isinstance(value.func.value, ast.Call):
        value = value.func.value
    return value


def classify_call(node: ast.Call, ctx: Context) -> str | None:
    if isinstance(node.func, ast.Attribute) and node.func.attr in _SAME_VALUES and isinstance(node.func.value, ast.Call):
        return classify_call(node.func.value, ctx)
    name = dotted(node.func)
    tail = name.rsplit(".", 1)[-1]
    if tail in SOFTMAX or name.endswith("Softmax()") and not name.endswith("LogSoftmax()"):
        return "softmax"
    if tail in LOG_SOFTMAX or name.endswith("LogSoftmax()"):
        return "log_softmax"
    if tail in SIGMOID or name.endswith("Sigmoid()"):
        return "sigmoid"
    return ctx.model_tail(name) if name else None


def classify(expr: ast.expr, scope: Scope, order: int, ctx: Context, depth: int = 0) -> str | None:
    """What a loss argument holds: 'softmax', 'log_softmax', 'sigmoid' outputs, or None (unknown)."""
    if depth > 3:
        return None
    if isinstance(expr, ast.Call):
        return classify_call(expr, ctx)
    if isinstance(expr, ast.Name):
        value = value_before(scope, expr.id, order)
        return classify(value, scope, order, ctx, depth + 1) if value is not None else None
    return None


def loss_kind(call: CallSite, ctx: Context) -> str | None:
    """'ce', 'nll' or 'bce_logits' for a call of that loss (functional or a module instance)."""
    attr = call.attr
    if attr == "cross_entropy":
        return "ce"
    if attr == "nll_loss":
        return "nll"
    if attr == "binary_cross_entropy_with_logits":
        return "bce_logits"
    built = ctx.constructed(call.name).rsplit(".", 1)[-1] or (attr if attr.endswith("Loss()") else "")
    return {"CrossEntropyLoss": "ce", "NLLLoss": "nll", "BCEWithLogitsLoss": "bce_logits"}.get(built.rstrip("()"))


def is_optimizer(name: str, ctx: Context) -> bool:
    built = ctx.constructed(name)
    if built:
        return "optim" in built and "lr_scheduler" not in built and "Scheduler" not in built and not built.endswith("LR")
    last = name.rsplit(".", 1)[-1].lower()
    return any(h in last for h in OPTIMIZER_HINTS) and "sched" not in last
