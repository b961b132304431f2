"""One pass over a module's syntax tree: the calls, assignments, returns and loops of each scope,
with the context every rule needs (enclosing loops, the grad mode a `with` block or a decorator
sets, statement order).

Rules read these facts, and the values lint/flow.py derives from them; none of them walks the tree
again. Every lookup a rule makes per call or per finding is indexed here (calls by loop,
assignments by position), so lint time stays linear in the file's size however many findings it
has. stdlib `ast` is used rather than libcst or astroid (measured 5.9x and 6.7x slower to parse,
docs/lint.md): rules need expressions and line/column positions, not round-trippable formatting or
inference over installed packages, and `ast.parse` is C-fast, which keeps linting within 2x of bare
parsing (bench/lint_speed.py).
"""

from __future__ import annotations

import ast
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field

_NO_GRAD = {"no_grad", "inference_mode"}
_ENABLE_GRAD = {"enable_grad"}
# Nodes that hold nothing a rule reads: not descending into them is most of the speed budget.
_LEAVES = (ast.Name, ast.Constant, ast.Load, ast.Store, ast.Del, ast.Pass, ast.Import, ast.ImportFrom, ast.alias,
           ast.Global, ast.Nonlocal, ast.Break, ast.Continue, ast.arguments, ast.operator, ast.unaryop, ast.cmpop, ast.boolop)


# Also skipped: lambdas (their calls run elsewhere), and what a field list holds besides nodes (None
# in dict keys, the names of `global` and of match patterns).
_SKIP = frozenset(_LEAVES) | {ast.Lambda, type(None), str}


# Fields that never hold a node a rule reads or counts (names, flags, contexts): not read at all.
_SCALAR_FIELDS = {"ctx", "id", "attr", "name", "arg", "module", "asname", "type_comment", "kind", "level",
                  "is_async", "conversion", "simple", "tag"}
_FIELDS: dict[type, tuple[str, ...]] = {}


def _fields(kind: type) -> tuple[str, ...]:
    """The fields of a node type that may hold nodes, in order (computed once per type: the traversal
    is most of lint's time)."""
    found = _FIELDS.get(kind)
    if found is None:
        found = _FIELDS[kind] = tuple(f for f in kind._fields if f not in _SCALAR_FIELDS)
    return found


_ATTRIBUTE = ast.Attribute
# The nodes the traversal records something for; every other one is only descended into.
_KINDS = {ast.Call: "call", ast.FunctionDef: "function", ast.AsyncFunctionDef: "function", ast.ClassDef: "class",
          ast.For: "loop", ast.AsyncFor: "loop", ast.While: "loop", ast.With: "with", ast.AsyncWith: "with",
          ast.Return: "statement", ast.Assign: "statement", ast.AnnAssign: "statement", ast.AugAssign: "statement",
          **{op: "operator" for base in (ast.operator, ast.unaryop, ast.cmpop, ast.boolop) for op in base.__subclasses__()}}


def _plain_chain(node: ast.Attribute) -> bool:
    """`a.b.c`: an attribute chain on a name holds no call, nothing a rule reads below it."""
    while type(node) is ast.Attribute:
        node = node.value
    return type(node) is ast.Name


def dotted(node: ast.AST) -> str:
    """`torch.nn.functional.softmax` for an attribute chain, `x` for a name, '' otherwise."""
    if node.__class__ is ast.Name:  # the commonest callees first: `f(...)`, `x.f(...)`
        return node.id
    if node.__class__ is ast.Attribute and node.value.__class__ is ast.Name:
        return f"{node.value.id}.{node.attr}"
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    if isinstance(node, ast.Call):  # `nn.Softmax(dim=1)(x)` or `model(x).softmax(-1)`: keep the tail
        inner = dotted(node.func)
        return f"{inner}()." + ".".join(reversed(parts)) if parts else f"{inner}()"
    return ".".join(reversed(parts))


@dataclass(slots=True)  # one object per call, no __dict__: fewer objects for the garbage collector to walk
class CallSite:
    node: ast.Call
    name: str  # dotted name of the callee
    loops: tuple[ast.AST, ...]  # enclosing for/while loops in this scope, outermost first
    grad: str | None  # "off" under no_grad / inference_mode (a `with` or the function's decorator), "on" under
    # enable_grad, None when the function inherits its caller's mode
    order: int  # position in the scope's source order
    scope: Scope | None = None
    via: CallSite | None = None  # spliced into a caller (lint/flow.py): the caller's own call that runs it
    base: str = field(init=False)  # `optimizer` of `optimizer.step`, '' for a bare name
    attr: str = field(init=False)  # `step`: every rule reads it for every call, so it is split once

    def __post_init__(self) -> None:
        self.base, _, self.attr = self.name.rpartition(".")

    @property
    def no_grad(self) -> bool:
        return self.grad == "off"


@dataclass(eq=False, slots=True)  # hashed by identity: rules key lookups by scope
class Scope:
    node: ast.AST  # Module, FunctionDef or AsyncFunctionDef
    cls: ast.ClassDef | None = None  # the class a method belongs to
    calls: list[CallSite] = field(default_factory=list)
    assigns: dict[str, list[tuple[int, ast.expr]]] = field(default_factory=dict)  # name -> [(order, value)]
    inplace: list[tuple[str, ast.AST, bool, int]] = field(default_factory=list)  # (name, node, no_grad, order)
    grad_resets: list[tuple] = field(default_factory=list)  # the enclosing loops of each `x.grad = ...`
    loops: list[ast.AST] = field(default_factory=list)
    in_loop: dict[ast.AST, list[CallSite]] = field(default_factory=dict)  # loop -> the calls inside it, nested too
    returns: list[tuple[int, ast.expr]] = field(default_factory=list)  # (order, value) of each `return value`
    bound: set[str] = field(default_factory=set)  # names bound otherwise (loop targets, `with ... as`): local, unknown
    ends: list[tuple[int, int, int]] | None = None  # (end line, end column, position) of each assignment, built on demand
    flow: object = None  # a weak reference to the lint/flow.py Flow of the module this scope is in: its names are resolved there


@dataclass
class Facts:
    tree: ast.Module
    scopes: list[Scope]
    classes: dict[str, ast.ClassDef]
    functions: dict[str, ast.AST]
    by_node: dict[ast.AST, Scope] = field(default_factory=dict)  # function node -> its scope


def grad_mode(expr: ast.expr) -> str | None:
    """"off" for `torch.no_grad()` / `inference_mode()` / `set_grad_enabled(False)` (as a context or a
    decorator, with or without parentheses), "on" for `enable_grad` / `set_grad_enabled(True)`, else None."""
    call = expr if isinstance(expr, ast.Call) else None
    last = dotted(call.func if call else expr).rsplit(".", 1)[-1]
    if last in _NO_GRAD:
        return None if call and call.args and getattr(call.args[0], "value", True) is False else "off"
    if last in _ENABLE_GRAD:
        return "on"
    if last == "set_grad_enabled" and call and call.args and isinstance(call.args[0], ast.Constant):
        return "on" if call.args[0].value else "off"
    return None


def _entered_mode(items: list[ast.withitem]) -> str | None:
    modes = [m for m in (grad_mode(i.context_expr) for i in items) if m]
    return modes[-1] if modes else None


def collect(tree: ast.Module) -> Facts:
    scopes: list[Scope] = []
    classes: dict[str, ast.ClassDef] = {}
    functions: dict[str, ast.AST] = {}
    order = 0

    def visit(node: ast.AST, scope: Scope, loops: tuple, grad: str | None) -> None:
        nonlocal order
        for field in _fields(node.__class__):
            value = getattr(node, field, None)
            for child in value if value.__class__ is list else (value,):
                kind = child.__class__
                if kind in _SKIP or kind is _ATTRIBUTE and _plain_chain(child) or not isinstance(child, ast.AST):
                    continue
                order += 1
                what = _KINDS.get(kind)
                if what is None:  # most nodes: an expression or a statement to descend into
                    visit(child, scope, loops, grad)
                elif what == "operator":  # `+`, `==`, `and`: counted, nothing inside
                    continue
                elif what == "call":
                    site = CallSite(child, dotted(child.func), loops, grad, order, scope)
                    scope.calls.append(site)
                    for loop in loops:
                        scope.in_loop[loop].append(site)
                    visit(child, scope, loops, grad)
                elif what == "function":
                    functions.setdefault(child.name, child)
                    inner = Scope(child, node if isinstance(node, ast.ClassDef) else None)
                    scopes.append(inner)
                    by_node[child] = inner
                    modes = [m for m in map(grad_mode, child.decorator_list) if m]
                    visit(child, inner, (), modes[-1] if modes else None)
                elif what == "class":
                    classes[child.name] = child
                    visit(child, scope, loops, grad)
                elif what == "loop":
                    scope.loops.append(child)
                    scope.in_loop[child] = []
                    if kind is not ast.While:
                        scope.bound.update(_target_names(child.target))
                    visit(child, scope, loops + (child,), grad)
                elif what == "with":
                    entering = _entered_mode(child.items)
                    scope.bound.update(n for i in child.items if i.optional_vars for n in _target_names(i.optional_vars))
                    visit(child, scope, loops, entering or grad)
                else:
                    _statement(child, kind, scope, loops, grad, order)
                    visit(child, scope, loops, grad)

    by_node: dict[ast.AST, Scope] = {}
    module = Scope(tree)
    scopes.append(module)
    visit(tree, module, (), None)
    # `visit` calls itself through its closure, a reference cycle that would hold every scope (and so the
    # tree) until a full garbage collection: unbound, the facts are freed as soon as no one uses them
    del visit
    return Facts(tree, scopes, classes, functions, by_node)


def _statement(child: ast.AST, kind: type, scope: Scope, loops: tuple, grad: str | None, order: int) -> None:
    """What a return, an assignment or an in-place update records in its scope."""
    if kind is ast.Return:
        if child.value is not None:
            scope.returns.append((order, child.value))
    elif kind is ast.Assign:
        for target in child.targets:
            for name in _target_names(target):
                scope.assigns.setdefault(name, []).append((order, child.value))
            if isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name):
                scope.inplace.append((target.value.id, child, grad == "off", order))
            elif isinstance(target, ast.Attribute):  # self.loss_fn = ..., p.grad = None
                scope.assigns.setdefault(dotted(target), []).append((order, child.value))
                if target.attr == "grad":
                    scope.grad_resets.append(loops)
    elif kind is ast.AnnAssign:
        if child.value is not None and isinstance(child.target, ast.Name):
            scope.assigns.setdefault(child.target.id, []).append((order, child.value))
    elif isinstance(child.target, ast.Name):  # AugAssign
        scope.inplace.append((child.target.id, child, grad == "off", order))


def _target_names(target: ast.AST) -> list[str]:
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, (ast.Tuple, ast.List)):
        return [n for elt in target.elts for n in _target_names(elt)]
    return []


def value_before(scope: Scope, name: str, order: int) -> ast.expr | None:
    """The expression last assigned to `name` before position `order` in this scope."""
    found = assignment_before(scope, name, order)
    return found[1] if found else None


def assignment_before(scope: Scope, name: str, order: int) -> tuple[int, ast.expr] | None:
    """(position, value) of the last assignment to `name` before position `order` in this scope."""
    assigns = scope.assigns.get(name, ())
    i = bisect_left(assigns, order, key=_order)  # appended in source order: sorted
    return assigns[i - 1] if i else None


def assigned_between(scope: Scope, name: str, after: int, before: int) -> bool:
    """Whether `name` is assigned strictly between positions `after` and `before` of this scope."""
    assigns = scope.assigns.get(name, ())
    i = bisect_right(assigns, after, key=_order)
    return i < len(assigns) and assigns[i][0] < before


def _order(assign: tuple[int, ast.expr]) -> int:
    return assign[0]
