"""What the lint rules share: diagnostics, the file-wide bindings, and expression classification."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Callable, TypeVar

from ..facts import CallSite, Facts, Scope, dotted
from ..flow import BUILTINS, Flow, Val, mentions, splice

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

    def __init__(self, facts: Facts, path: str = "", text: str | None = None, flow: Flow | None = None):
        self.facts = facts
        self.path = path
        self.text = text
        self.flow = flow or Flow(facts, path)
        self._bindings: dict[str, list[tuple[Scope, ast.expr]]] | None = None
        self._constructed: dict[str, str] = {}
        self._mentioned: dict[str, bool] = {}  # word -> whether the text holds it (each text scanned once per word)
        self._shared: dict[Callable, object] = {}
        self._paths: list[str] | None = None

    def mentions(self, *words: str) -> bool:
        """Whether the file's text — or that of a module next to it it imports names from — holds any of
        `words`: a rule whose vocabulary is absent cannot fire, so it skips the file without resolving
        anything (True when the text is not known)."""
        if self.text is None:
            return True
        for word in words:
            if word not in self._mentioned:
                self._mentioned[word] = word in self.text or any(mentions(path, word) for path in self._imported_paths())
        return any(self._mentioned[w] for w in words)

    def _imported_paths(self) -> list[str]:
        if self._paths is None:
            self._paths = self.flow.imported_paths()
        return self._paths

    @property
    def bindings(self) -> dict[str, list[tuple[Scope, ast.expr]]]:
        """Every assignment of the file by name (a scope's own are in `Scope.assigns`), built on first use."""
        if self._bindings is None:
            self._bindings = {}
            for scope in self.facts.scopes:
                for name, values in scope.assigns.items():
                    self._bindings.setdefault(name, []).extend((scope, v) for _, v in values)
        return self._bindings

    def once(self, compute: Callable[[Context], T]) -> T:
        """`compute(self)`, computed once per file however many rules ask for it."""
        if compute not in self._shared:
            self._shared[compute] = compute(self)
        return self._shared[compute]  # type: ignore[return-value]

    def spliced(self, calls: list[CallSite]) -> list[CallSite]:
        """`calls` with the calls of the helpers they reach spliced in (see flow.splice)."""
        return splice(self.flow, calls)

    def here(self, site: CallSite) -> ast.AST:
        """Where a finding on `site` is reported in this file: the call itself, or — for a call spliced
        in from a module next to it — the call of this file that runs it."""
        while site.via is not None and not self.flow.owns(site.scope):
            site = site.via
        return site.node

    def built(self, expr: ast.expr, scope: Scope) -> str:
        """The dotted construction `expr` holds where it is read ('nn.CrossEntropyLoss', 'optim.SGD',
        a class name), followed through assignments, parameters, attributes and factories; '' when
        unknown or when different paths hold different things."""
        found = {c for c in map(_construction, self.flow.values(expr, scope)) if c}
        return found.pop() if len(found) == 1 else ""

    def constructed(self, name: str) -> str:
        """Dotted callee that built `name` anywhere in the file (e.g. 'nn.CrossEntropyLoss'), or ''."""
        if name not in self._constructed:
            self._constructed[name] = self._first_construction(name)
        return self._constructed[name]

    def _first_construction(self, name: str) -> str:
        for scope, value in self.bindings.get(name, ()):
            found = self.built(value, scope) or _callee(_unmoved(value))
            if found:
                return found
        for fn in self.flow.parameters().get(name, ()):  # a parameter of that name: what the callers pass
            found = {c for c in map(_construction, self.flow.param_values(fn, name)) if c}
            if len(found) == 1:
                return found.pop()
        return ""

    def modules(self, expr: ast.expr, scope: Scope) -> tuple[Val, ...]:
        """The modules (classes, Sequentials, nn layers) `expr` may hold where it is read."""
        return tuple(v for v in self.flow.values(expr, scope) if v.kind in ("class", "seq", "layer"))


def _callee(value: ast.expr) -> str:
    return dotted(value.func) if isinstance(value, ast.Call) else ""


def _construction(val: Val) -> str:
    if val.kind == "layer":
        return f"nn.{val.what}"
    if val.kind == "seq":
        return "nn.Sequential"
    if val.kind == "class":
        return val.node.name
    return val.what if val.kind == "built" else ""


def _unmoved(value: ast.expr) -> ast.expr:
    """`Net(...).to(device)`, `.cuda()`, `.float()`: the module is what was constructed inside."""
    while isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) \
            and value.func.attr in _MOVES and isinstance(value.func.value, ast.Call):
        value = value.func.value
    return value


def classify(expr: ast.expr, scope: Scope, ctx: Context) -> str | None:
    """What a loss argument holds: 'softmax', 'log_softmax', 'sigmoid' outputs, 'logits' of a Linear
    layer, or None (unknown, or different things on different paths)."""
    kinds = {v.what if v.kind == "tensor" else None for v in ctx.flow.values(expr, scope)}
    return kinds.pop() if len(kinds) == 1 else None


def loss_kind(call: CallSite, ctx: Context) -> str | None:
    """'ce', 'nll' or 'bce_logits' for a call of that loss (functional or a module instance)."""
    attr = call.attr
    if attr == "cross_entropy":
        return "ce"
    if attr == "nll_loss":
        return "nll"
    if attr == "binary_cross_entropy_with_logits":
        return "bce_logits"
    func = call.node.func
    if isinstance(func, ast.Name) and call.scope and ctx.flow.names_a_definition(func.id, call.scope):
        built = ""  # an imported function or class: no loss instance (known without reading its module again)
    else:
        built = ctx.built(func, call.scope) if call.scope and _may_be_module_call(call, ctx) else ""
    built = (built or ctx.constructed(call.name)).rsplit(".", 1)[-1] or (attr if attr.endswith("Loss()") else "")
    return {"CrossEntropyLoss": "ce", "NLLLoss": "nll", "BCEWithLogitsLoss": "bce_logits"}.get(built.rstrip("()"))


def _may_be_module_call(call: CallSite, ctx: Context) -> bool:
    """Whether a call can be a module instance's: `crit(a, b)`, `self.loss_fn(a, b)` — not a class being
    built, a builtin, or a function of an imported module (`torch.cat`, `np.mean`). Only those are followed."""
    func = call.node.func
    root = func
    while isinstance(root, ast.Attribute):
        root = root.value
    if not isinstance(root, ast.Name) or len(call.node.args) + len(call.node.keywords) < 2:
        return False
    if func is root:
        return not root.id[:1].isupper() and root.id not in BUILTINS
    return root.id not in ctx.flow.module_aliases()


def is_optimizer(name: str, ctx: Context, site: CallSite | None = None) -> bool:
    """Whether `name` (the receiver of `site`, when given) is an optimizer: by what built it, else by its name."""
    receiver = site.node.func.value if site is not None and isinstance(site.node.func, ast.Attribute) else None
    built = (ctx.built(receiver, site.scope) if receiver is not None and site.scope else "") or ctx.constructed(name)
    if built:
        return "optim" in built and "lr_scheduler" not in built and "Scheduler" not in built and not built.endswith("LR")
    last = name.rsplit(".", 1)[-1].lower()
    return any(h in last for h in OPTIMIZER_HINTS) and "sched" not in last
