"""One pass over a module's syntax tree: the calls, assignments and loops of each scope, with the
context every rule needs (enclosing loops, whether gradients are disabled, statement order).

Rules read these facts; none of them walks the tree again. Every lookup a rule makes per call or per
finding is indexed here (calls by loop, assignments by position), so lint time stays linear in the
file's size however many findings it has. stdlib `ast` is used rather than
libcst: rules need expressions and line/column positions, not round-trippable formatting, and
`ast.parse` is C-fast, which keeps linting within 2x of bare parsing (bench/lint_speed.py).
"""

from __future__ import annotations

import ast
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field

_NO_GRAD = {"no_grad", "inference_mode"}
# Nodes that hold nothing a rule reads: not descending into them is most of the speed budget.
_LEAVES = (ast.Name, ast.Constant, ast.Load, ast.Store, ast.Del, ast.Pass, ast.Import, ast.ImportFrom, ast.alias,
           ast.Global, ast.Nonlocal, ast.Break, ast.Continue, ast.arguments, ast.operator, ast.unaryop, ast.cmpop, ast.boolop)


def dotted(node: ast.AST) -> str:
    """`torch.nn.functional.softmax` for an attribute chain, `x` for a name, '' otherwise."""
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


@dataclass
class CallSite:
    node: ast.Call
    name: str  # dotted name of the callee
    loops: tuple[ast.AST, ...]  # enclosing for/while loops in this scope, outermost first
    no_grad: bool  # lexically inside `with torch.no_grad()` / `inference_mode()`
    order: int  # position in the scope's source order

    @property
    def attr(self) -> str:
        return self.name.rsplit(".", 1)[-1]

    @property
    def base(self) -> str:
        return self.name.rsplit(".", 1)[0] if "." in self.name else ""


@dataclass
class Scope:
    node: ast.AST  # Module, FunctionDef or AsyncFunctionDef
    calls: list[CallSite] = field(default_factory=list)
    assigns: dict[str, list[tuple[int, ast.expr]]] = field(default_factory=dict)  # name -> [(order, value)]
    inplace: list[tuple[str, ast.AST, bool, int]] = field(default_factory=list)  # (name, node, no_grad, order)
    no_grad_blocks: list[ast.With] = field(default_factory=list)
    grad_resets: list[tuple] = field(default_factory=list)  # the enclosing loops of each `x.grad = ...`
    loops: list[ast.AST] = field(default_factory=list)
    in_loop: dict[ast.AST, list[CallSite]] = field(default_factory=dict)  # loop -> the calls inside it, nested too


@dataclass
class Facts:
    tree: ast.Module
    scopes: list[Scope]
    classes: dict[str, ast.ClassDef]
    functions: dict[str, ast.AST]


def _is_no_grad(item: ast.withitem) -> bool:
    expr = item.context_expr
    return isinstance(expr, ast.Call) and dotted(expr.func).rsplit(".", 1)[-1] in _NO_GRAD


def collect(tree: ast.Module) -> Facts:
    scopes: list[Scope] = []
    classes: dict[str, ast.ClassDef] = {}
    functions: dict[str, ast.AST] = {}
    counter = [0]

    def visit(node: ast.AST, scope: Scope, loops: tuple, no_grad: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, _LEAVES):
                continue
            counter[0] += 1
            kind = type(child)
            if kind in (ast.FunctionDef, ast.AsyncFunctionDef):
                functions.setdefault(child.name, child)
                inner = Scope(child)
                scopes.append(inner)
                visit(child, inner, (), False)
                continue
            if kind is ast.ClassDef:
                classes[child.name] = child
                visit(child, scope, loops, no_grad)
                continue
            if kind is ast.Lambda:
                continue
            if kind in (ast.For, ast.While, ast.AsyncFor):
                scope.loops.append(child)
                scope.in_loop[child] = []
                visit(child, scope, loops + (child,), no_grad)
                continue
            if kind in (ast.With, ast.AsyncWith):
                entering = any(_is_no_grad(i) for i in child.items)
                if entering:
                    scope.no_grad_blocks.append(child)
                visit(child, scope, loops, no_grad or entering)
                continue
            if kind is ast.Call:
                site = CallSite(child, dotted(child.func), loops, no_grad, counter[0])
                scope.calls.append(site)
                for loop in loops:
                    scope.in_loop[loop].append(site)
            elif kind is ast.Assign:
                for target in child.targets:
                    for name in _target_names(target):
                        scope.assigns.setdefault(name, []).append((counter[0], child.value))
                    if isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name):
                        scope.inplace.append((target.value.id, child, no_grad, counter[0]))
                    elif isinstance(target, ast.Attribute):  # self.loss_fn = ..., p.grad = None
                        scope.assigns.setdefault(dotted(target), []).append((counter[0], child.value))
                        if target.attr == "grad":
                            scope.grad_resets.append(loops)
            elif kind is ast.AnnAssign and child.value is not None and isinstance(child.target, ast.Name):
                scope.assigns.setdefault(child.target.id, []).append((counter[0], child.value))
            elif kind is ast.AugAssign and isinstance(child.target, ast.Name):
                scope.inplace.append((child.target.id, child, no_grad, counter[0]))
            visit(child, scope, loops, no_grad)

    module = Scope(tree)
    scopes.append(module)
    visit(tree, module, (), False)
    return Facts(tree, scopes, classes, functions)


def _target_names(target: ast.AST) -> list[str]:
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, (ast.Tuple, ast.List)):
        return [n for elt in target.elts for n in _target_names(elt)]
    return []


def value_before(scope: Scope, name: str, order: int) -> ast.expr | None:
    """The expression last assigned to `name` before position `order` in this scope."""
    assigns = scope.assigns.get(name, ())
    i = bisect_left(assigns, order, key=_order)  # appended in source order: sorted
    return assigns[i - 1][1] if i else None


def assigned_between(scope: Scope, name: str, after: int, before: int) -> bool:
    """Whether `name` is assigned strictly between positions `after` and `before` of this scope."""
    assigns = scope.assigns.get(name, ())
    i = bisect_right(assigns, after, key=_order)
    return i < len(assigns) and assigns[i][0] < before


def _order(assign: tuple[int, ast.expr]) -> int:
    return assign[0]
