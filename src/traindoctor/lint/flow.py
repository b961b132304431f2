"""Where the values of a module come from: names, parameters, `self.` attributes, returns, classes and
their `forward`, `nn.Sequential` contents, through reshapes and common wrappers — within one file, and
into the sibling modules a file imports explicitly (`from .model import Net`, `from train_utils import
make_optimizer, train_one_epoch`): an imported class or function is read in its own module, its
returns followed and its calls spliced into the caller like a helper of the file. Each sibling module
is parsed once per linted file (`Flow.sibling`) and freed with it (`release`): nothing a file's lint
built outlives it, so what one file finds does not depend on the files linted before it. A scope's
names are always resolved by the flow of the module it belongs to, so two modules importing each
other terminate like any other cycle.

A value is resolved to the few things the rules tell apart (`Val`): a tensor of a known kind (softmax,
log-softmax, sigmoid outputs or raw Linear logits), a module (a class of the file or a sibling, an
`nn.Sequential`, an `nn.<Layer>`), another construction (the dotted callee, e.g. `optim.SGD`), or
unknown. Each expression is resolved once and memoised (a value expression has one scope and one
position, so its node is the key); a cycle (recursion, `x = f(x)` chains) resolves to unknown, and so
does a chain deeper than `_DEPTH`. Which function a call reaches, and who calls each function, is
indexed once per file, so resolution stays linear in the file's size.
"""

from __future__ import annotations

import ast
import builtins
import os
import re
import weakref
from bisect import bisect_right
from dataclasses import dataclass
from pathlib import Path

from .facts import CallSite, Facts, Scope, assignment_before, collect, dotted

# Methods that reshape, cast or move without changing what the values are (or which module it is).
SAME_VALUES = {"squeeze", "unsqueeze", "view", "reshape", "flatten", "contiguous", "float", "double", "permute",
               "transpose", "to", "clone", "cuda", "cpu", "half", "bfloat16", "train", "eval", "to_empty", "view_as",
               "reshape_as", "type", "requires_grad_", "share_memory"}
# Calls whose result is their first argument, wrapped: the module (or tensor) inside is what counts.
WRAPPERS = {"compile", "DataParallel", "DistributedDataParallel", "DDP", "FSDP", "FullyShardedDataParallel",
            "script", "trace", "squeeze", "unsqueeze", "flatten", "reshape"}
ACTIVATIONS = {"softmax": "softmax", "Softmax": "softmax", "log_softmax": "log_softmax", "LogSoftmax": "log_softmax",
               "sigmoid": "sigmoid", "Sigmoid": "sigmoid"}
_LAYER_OUTPUT = {"Softmax": "softmax", "LogSoftmax": "log_softmax", "Sigmoid": "sigmoid", "Linear": "logits"}
_MODE_LAYERS = re.compile(r"Dropout|BatchNorm|dropout|batch_norm")
_DEPTH = 40


@dataclass(frozen=True, slots=True)
class Val:
    """What an expression holds. `kind`: 'tensor' (`what` = softmax/log_softmax/sigmoid/logits), 'class'
    (an instance of `node`, a ClassDef of `flow`), 'classdef' (the class itself), 'seq' (`node` = the
    nn.Sequential call), 'layer' (`what` = nn class name), 'built' (`what` = dotted callee of another
    call, `node` = that call), 'function' (`node` = a FunctionDef or method of `flow`)."""

    kind: str
    what: str = ""
    node: ast.AST | None = None
    flow: Flow | None = None
    scope: Scope | None = None  # where a Sequential was built: its contents are read there

    def __hash__(self) -> int:
        return hash((self.kind, self.what, id(self.node)))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Val) and (self.kind, self.what) == (other.kind, other.what) and self.node is other.node


_NONE: tuple[Val, ...] = ()


class Flow:
    """Value resolution over one module's facts (see the module docstring)."""

    def __init__(self, facts: Facts, path: str = "", read: dict[str, Flow | None] | None = None):
        self.facts = facts
        self.path = path
        self._read = {} if read is None else read  # the sibling modules read for the linted file, shared by their flows
        self._memo: dict[ast.AST, tuple[Val, ...]] = {}
        self._busy: set[ast.AST] = set()
        self._module_names: dict[str, tuple[Val, ...]] = {}
        self._attrs: dict[ast.ClassDef, dict[str, list[tuple[Scope, ast.expr]]]] = {}
        self._params: dict[tuple[ast.AST, str], tuple[Val, ...]] = {}
        self._callers: dict[ast.AST, list[CallSite]] | None = None
        self._imports: dict[str, tuple[str, str]] | None = None
        self._mode_layers: dict[Val, bool | None] = {}
        self._tails: dict[Val, str | None] = {}
        self.summaries: dict[ast.AST, list[CallSite]] = {}  # function -> its spliced calls (see `splice`)
        self._no_grad_functions: dict[ast.AST, bool] = {}
        self._by_class: dict[ast.ClassDef, dict[str, ast.AST]] = {}
        self._paths: dict[str, str] = {}  # imported module -> its path next to this file
        self._depth = 0
        # each scope names its flow weakly: a strong back-reference would make every module a reference
        # cycle, kept alive until a full garbage collection instead of freed when its lint ends
        self._ref = weakref.ref(self)
        for scope in facts.scopes:
            scope.flow = self._ref

    # -- resolution -------------------------------------------------------------------------------

    def values(self, expr: ast.expr | None, scope: Scope) -> tuple[Val, ...]:
        """What `expr`, read in `scope` at its own position, may hold ('()' when unknown)."""
        if expr is None:
            return _NONE
        if scope.flow is not self._ref and scope.flow is not None:
            owner = scope.flow()  # a scope of an imported module: its own names
            return owner.values(expr, scope) if owner is not None else _NONE
        if expr in self._memo:
            return self._memo[expr]
        if expr in self._busy or self._depth > _DEPTH:
            return _NONE  # a cycle or a very long chain: unknown
        self._busy.add(expr)
        self._depth += 1
        try:
            found = self._resolve(expr, scope)
        finally:
            self._depth -= 1
            self._busy.discard(expr)
        self._memo[expr] = found
        return found

    def _resolve(self, expr: ast.expr, scope: Scope) -> tuple[Val, ...]:
        if isinstance(expr, ast.Name):
            return self.name_values(expr.id, scope, _position(expr, scope))
        if isinstance(expr, ast.Attribute):
            return self._attribute(expr, scope)
        if isinstance(expr, ast.Call):
            return self._call(expr, scope)
        if isinstance(expr, ast.NamedExpr):
            return self.values(expr.value, scope)
        return _NONE

    def name_values(self, name: str, scope: Scope, order: int) -> tuple[Val, ...]:
        """A name read at `order` in `scope`: its last assignment there, else the caller's argument
        for a parameter, else the module's bindings (a global); unknown when bound otherwise."""
        if name in scope.bound:
            return _NONE  # a loop or `with` variable: its assignments are not the whole story
        found = assignment_before(scope, name, order)
        if found is not None:
            return self.values(found[1], scope)
        fn = scope.node
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if name in param_names(fn):
                return self.param_values(fn, name)
            if name in scope.assigns:
                return _NONE  # a local read before its assignment
        return self.module_name(name)

    def module_name(self, name: str) -> tuple[Val, ...]:
        """A module-level name: its assignments, a class or function of the file, or an explicit import."""
        if name in self._module_names:
            return self._module_names[name]
        self._module_names[name] = _NONE  # cycle guard
        module = self._module_scope()
        out: list[Val] = []
        for _, value in () if name in module.bound else module.assigns.get(name, ()):
            out += self.values(value, module)
        if not out and name in self.facts.classes:
            out.append(Val("classdef", node=self.facts.classes[name], flow=self))
        function = self.facts.functions.get(name)
        if not out and function is not None and self.facts.by_node[function].cls is None:
            out.append(Val("function", node=function, flow=self))
        if not out:
            out += self._imported(name)
        found = _unique(out)
        self._module_names[name] = found
        return found

    def owns(self, scope: Scope | None) -> bool:
        """Whether `scope` is of this flow's module (not spliced in from an imported one)."""
        return scope is None or scope.flow is None or scope.flow is self._ref

    def _module_scope(self) -> Scope:
        return next(s for s in self.facts.scopes if isinstance(s.node, ast.Module))

    def param_values(self, fn: ast.AST, name: str) -> tuple[Val, ...]:
        """The arguments every call of `fn` in this file passes for parameter `name` (unknown when a
        call passes it in a way that cannot be matched, or when nothing calls `fn`)."""
        key = (fn, name)
        if key in self._params:
            return self._params[key]
        self._params[key] = _NONE
        scope = self.facts.by_node.get(fn)
        if scope is not None and scope.cls is not None and param_names(fn)[:1] == [name]:
            found: tuple[Val, ...] = (Val("class", node=scope.cls, flow=self),)  # `self`
        else:
            found = self._arguments(fn, name)
        self._params[key] = found
        return found

    def _arguments(self, fn: ast.AST, name: str) -> tuple[Val, ...]:
        out: list[Val] = []
        for site in self.callers().get(fn, ()):
            arg = argument_at(site, fn, name, self)
            found = self.values(arg, site.scope) if arg is not None else _NONE
            if not found:
                return _NONE  # one caller passes something unknown: so is the parameter
            out += found
        return _unique(out)

    def _attribute(self, expr: ast.Attribute, scope: Scope) -> tuple[Val, ...]:
        if isinstance(expr.value, ast.Name) and self.names_a_definition(expr.value.id, scope):
            return _NONE  # an attribute of an imported function or class: not an instance's
        owners = self.values(expr.value, scope)
        out: list[Val] = []
        for owner in owners:
            if owner.kind != "class":
                return _NONE
            found = owner.flow.attribute_values(owner.node, expr.attr)
            method = owner.flow.method(owner.node, expr.attr) if not found else None
            if not found and method is None:
                return _NONE
            out += found or (Val("function", node=method, flow=owner.flow),)
        return _unique(out)

    def attribute_values(self, cls: ast.ClassDef, attr: str) -> tuple[Val, ...]:
        """Every value the class's methods (or its base classes of this file) assign to `self.attr`."""
        table = self._attr_table(cls)
        out: list[Val] = []
        for scope, value in table.get(attr, ()):
            out += self.values(value, scope)
        if not table.get(attr):
            for base in cls.bases:
                parent = self.facts.classes.get(dotted(base))
                if parent is not None and parent is not cls:
                    out += self.attribute_values(parent, attr)
        return _unique(out)

    def _attr_table(self, cls: ast.ClassDef) -> dict[str, list[tuple[Scope, ast.expr]]]:
        """`self.<attr>` -> every (method scope, value) assigned to it in the class's own methods."""
        if cls not in self._attrs:
            table: dict[str, list[tuple[Scope, ast.expr]]] = {}
            for node in cls.body:
                scope = self.facts.by_node.get(node)
                if scope is None:
                    continue
                for name, values in scope.assigns.items():
                    if name.startswith("self.") and name.count(".") == 1:
                        table.setdefault(name[5:], []).extend((scope, v) for _, v in values)
            self._attrs[cls] = table
        return self._attrs[cls]

    def _call(self, call: ast.Call, scope: Scope) -> tuple[Val, ...]:
        func = call.func
        name = dotted(func)
        last = name.rsplit(".", 1)[-1].removesuffix("()")
        if last in WRAPPERS and call.args and (isinstance(func, ast.Name) or _from_torch(func)):
            return self.values(call.args[0], scope)  # torch.compile(model), DDP(model), torch.squeeze(x)
        if isinstance(func, ast.Attribute) and func.attr in SAME_VALUES:
            return self.values(func.value, scope)
        if last in ACTIVATIONS and not isinstance(func, ast.Call):
            # `nn.Softmax(dim=1)` builds a layer; `F.softmax(x)`, `x.softmax(-1)`, `torch.sigmoid(x)` are outputs
            return (Val("layer", last),) if last[0].isupper() else (Val("tensor", ACTIVATIONS[last]),)
        if last == "Sequential":
            return (Val("seq", node=call, flow=self, scope=scope),)
        if isinstance(func, ast.Attribute) and _is_nn(func) and last[:1].isupper():
            return (Val("layer", last),)
        callees = self.values(func, scope)
        if not callees:
            return (Val("built", name, node=call),) if name else _NONE
        out: list[Val] = []
        for callee in callees:
            result = self._call_result(callee, call)
            if not result:
                return _NONE
            out += result
        return _unique(out)

    def _call_result(self, callee: Val, call: ast.Call) -> tuple[Val, ...]:
        if callee.kind == "classdef":
            return (Val("class", node=callee.node, flow=callee.flow),)
        if callee.kind == "function":
            return callee.flow.returns(callee.node)
        if callee.kind in ("class", "seq", "layer"):  # calling a module: its output
            kind = self.tail(callee)
            return (Val("tensor", kind),) if kind else _NONE
        return _NONE

    def returns(self, fn: ast.AST) -> tuple[Val, ...]:
        """What the function returns: the union over its `return` statements (unknown if any is)."""
        scope = self.facts.by_node.get(fn)
        if scope is None or not scope.returns:
            return _NONE
        out: list[Val] = []
        for _, value in scope.returns:
            found = self.values(value, scope)
            if not found:
                return _NONE
            out += found
        return _unique(out)

    def method(self, cls: ast.ClassDef, name: str) -> ast.AST | None:
        """`cls.name`, looked up through the class's bases defined in the same file."""
        seen = set()
        while cls is not None and cls not in seen:
            seen.add(cls)
            found = self._methods(cls).get(name)
            if found is not None:
                return found
            cls = next((self.facts.classes[dotted(b)] for b in cls.bases if dotted(b) in self.facts.classes), None)
        return None

    def _methods(self, cls: ast.ClassDef) -> dict[str, ast.AST]:
        """The methods a class body defines, by name (the first of a name, as a lookup in order finds it)."""
        found = self._by_class.get(cls)
        if found is None:
            found = self._by_class[cls] = {}
            for n in cls.body:
                if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    found.setdefault(n.name, n)
        return found

    # -- what a module does -----------------------------------------------------------------------

    def tail(self, module: Val) -> str | None:
        """The kind of output calling `module` produces: 'softmax', 'log_softmax', 'sigmoid', 'logits' or None."""
        if module in self._tails:
            return self._tails[module]
        self._tails[module] = None
        kind = None
        if module.kind == "layer":
            kind = _LAYER_OUTPUT.get(module.what)
        elif module.kind == "seq" and module.node.args:
            inner = module.flow.values(module.node.args[-1], module.scope)
            kinds = {module.flow.tail(v) for v in inner} if inner else {None}
            kind = kinds.pop() if len(kinds) == 1 else None
        elif module.kind == "class":
            forward = module.flow.method(module.node, "forward")
            found = module.flow.returns(forward) if forward is not None else _NONE
            kinds = {v.what if v.kind == "tensor" else None for v in found}
            kind = kinds.pop() if len(kinds) == 1 else None
        self._tails[module] = kind
        return kind

    def has_mode_layers(self, module: Val) -> bool | None:
        """Whether the module holds dropout or batch norm: True/False when its layers are known (a class
        of this file or a sibling, an nn.Sequential, an nn layer), None when unknown."""
        if module in self._mode_layers:
            return self._mode_layers[module]
        self._mode_layers[module] = None
        found: bool | None = None
        if module.kind == "layer":
            found = bool(_MODE_LAYERS.search(module.what))
        elif module.kind == "seq":
            found = module.flow._sequential_has_mode_layers(module)
        elif module.kind == "class":
            found = module.flow._class_has_mode_layers(module.node)
        self._mode_layers[module] = found
        return found

    def _sequential_has_mode_layers(self, seq: Val) -> bool | None:
        if _MODE_LAYERS.search(ast.unparse(seq.node)):
            return True
        known = True
        for arg in seq.node.args:
            parts = self.values(arg, seq.scope) if not isinstance(arg, ast.Starred) else _NONE
            flags = [self.has_mode_layers(v) for v in parts]
            if any(flags):
                return True
            known = known and bool(parts) and all(f is False for f in flags)
        return False if known and not seq.node.keywords else None

    def _class_has_mode_layers(self, cls: ast.ClassDef) -> bool:
        if _MODE_LAYERS.search(ast.unparse(cls)):
            return True
        for base in cls.bases:  # a base class of this file
            parent = self.facts.classes.get(dotted(base))
            if parent is not None and parent is not cls and self._class_has_mode_layers(parent):
                return True
        # submodules built from classes or Sequentials this file (or a sibling) defines
        for entries in self._attr_table(cls).values():
            for scope, value in entries:
                if any(self.has_mode_layers(v) for v in self.values(value, scope) if v.kind in ("class", "seq")):
                    return True
        return False

    def parameters(self) -> dict[str, list[ast.AST]]:
        """The functions of the file by the names of their parameters (indexed once)."""
        if self._by_param is None:
            self._by_param = {}
            for fn in self.facts.by_node:
                for name in param_names(fn):
                    self._by_param.setdefault(name, []).append(fn)
        return self._by_param

    _by_param: dict[str, list[ast.AST]] | None = None

    # -- calls ------------------------------------------------------------------------------------

    def callers(self) -> dict[ast.AST, list[CallSite]]:
        """The call sites of each function of this file (bare names, and `self.m()` within a class)."""
        if self._callers is None:
            self._callers = {}
            for scope in self.facts.scopes:
                for site in scope.calls:
                    target = self.callee(site)
                    if target is not None:
                        self._callers.setdefault(target, []).append(site)
        return self._callers

    def site(self, call: ast.Call) -> CallSite | None:
        """The call site of a call expression (indexed once)."""
        if self._sites is None:
            self._sites = {c.node: c for scope in self.facts.scopes for c in scope.calls}
        return self._sites.get(call)

    _sites: dict[ast.Call, CallSite] | None = None

    def without_grad(self, site: CallSite) -> bool:
        """Whether a call runs with gradients off: its own block or decorator says so, or it inherits
        the mode of a function that every caller in the file runs without gradients."""
        if site.grad is not None:
            return site.grad == "off"
        fn = site.scope.node if site.scope is not None else None
        return fn is not None and not isinstance(fn, ast.Module) and self.runs_without_grad(fn)

    def runs_without_grad(self, fn: ast.AST) -> bool:
        """Every call of `fn` in the file (at least one) runs with gradients off (memoised; recursion: no)."""
        if fn not in self._no_grad_functions:
            self._no_grad_functions[fn] = False
            sites = self.callers().get(fn, ())
            self._no_grad_functions[fn] = bool(sites) and all(self.without_grad(s) for s in sites)
        return self._no_grad_functions[fn]

    def callee(self, site: CallSite) -> ast.AST | None:
        """The function of this file a call reaches, found syntactically: `helper()`, `self.method()`, or
        `Class(...)` (its `__init__`)."""
        func = site.node.func
        if isinstance(func, ast.Attribute) and not (isinstance(func.value, ast.Name) and func.value.id == "self"):
            return None  # the common case, decided first: a method of some other object
        if isinstance(func, ast.Name) and func.id in self.facts.classes:  # `Trainer(model)`: its __init__
            return self.method(self.facts.classes[func.id], "__init__")
        if isinstance(func, ast.Name):
            target = self.facts.functions.get(func.id)
            scope = self.facts.by_node.get(target) if target is not None else None
            return target if scope is not None and scope.cls is None else None
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "self" \
                and site.scope is not None and site.scope.cls is not None:
            return self.method(site.scope.cls, func.attr)
        return None

    # -- other modules ----------------------------------------------------------------------------

    def module_aliases(self) -> set[str]:
        """Names bound by `import x` / `import x.y as z` at the top of the file (also under `try`/`if`)."""
        if self._aliases is None:
            self._aliases = {(a.asname or a.name).split(".")[0] for node in _top_statements(self.facts.tree)
                             if isinstance(node, ast.Import) for a in node.names}
        return self._aliases

    _aliases: set[str] | None = None

    def _imported(self, name: str) -> list[Val]:
        """What `name` imported with `from .module import name` / `from module import name` from a
        module next to this file holds (a class, a function, a module-level value): resolved in that
        module. Only explicit imports: `import *` binds no name here, and a module not next to the
        file (an installed package) is not read."""
        imports = self._import_table()
        if name not in imports or not self.path:
            return []
        module, original = imports[name]
        other = self.sibling(self._module_path(module))
        return list(other.module_name(original)) if other is not None and other is not self else []

    def sibling(self, path: str) -> Flow | None:
        """The flow of a module next to the linted file, or None when it cannot be read or parsed: read
        once for that file, by whichever of its modules asks first (two modules importing each other
        end like any other cycle)."""
        key = os.path.abspath(path)
        if key not in self._read:
            text = _text(path)
            try:
                self._read[key] = Flow(collect(ast.parse(text, filename=path)), path, self._read) if text is not None else None
            except (SyntaxError, ValueError, RecursionError):
                self._read[key] = None
        return self._read[key]

    def siblings_read(self) -> list[Flow]:
        """The sibling modules read so far for the linted file."""
        return [f for f in self._read.values() if f is not None]

    def _module_path(self, module: str) -> str:
        path = self._paths.get(module)
        if path is None:  # asked for every call of an imported name: joined once per module
            path = self._paths[module] = os.path.join(os.path.dirname(self.path), module.replace(".", "/") + ".py")
        return path

    def imported_paths(self) -> list[str]:
        """The path of each module next to this file that it imports names from."""
        if not self.path:
            return []
        return list(dict.fromkeys(self._module_path(m) for m, _ in self._import_table().values()))

    def _import_table(self) -> dict[str, tuple[str, str]]:
        """Name -> (module, original name) of each `from [.]module import name [as alias]` at the top."""
        if self._imports is None:
            self._imports = {}
            for node in self.facts.tree.body:
                if isinstance(node, ast.ImportFrom) and node.module and node.level <= 1:
                    for alias in node.names:
                        if alias.name != "*":
                            self._imports[alias.asname or alias.name] = (node.module, alias.name)
        return self._imports

    def imported_names(self) -> dict[str, tuple[str, str]]:
        """The names the file imports explicitly from a module (`from [.]module import name`)."""
        return self._import_table()

    def names_a_definition(self, name: str, scope: Scope) -> bool:
        """Whether `name`, read in `scope`, is the import of a function or a class of a sibling module
        already read in this run (or of nothing there), known from that module's table (lint/backward.py)
        without reading it again: not rebound in the scope, a parameter, or at the module's level."""
        module = self._module_scope()
        if name in scope.assigns or name in scope.bound or name in module.assigns or name in self.facts.classes \
                or name in self.facts.functions or name not in self._import_table() or not self.path \
                or not isinstance(scope.node, ast.Module) and name in param_names(scope.node):
            return False
        module_name, original = self._imports[name]
        entry = table_entry(os.path.abspath(self._module_path(module_name)), original)
        return entry is not None and entry[0] == "def"

    def imported_call(self, site: CallSite) -> str | None:
        """The path of the sibling module a call's name is imported from (`from [.]module import name`),
        when no function, class or local of this file shadows it; else None."""
        func = site.node.func
        if not isinstance(func, ast.Name) or func.id not in self._import_table() or func.id in self.facts.functions \
                or func.id in self.facts.classes or site.scope is not None and _local(func.id, site.scope):
            return None
        return self._module_path(self._imports[func.id][0])

    def reach(self, site: CallSite, spliced: bool = False) -> tuple[Flow, ast.AST] | None:
        """The function a call runs and the flow of its module: a helper of this file (`callee`), or a
        function (a class's `__init__`) imported explicitly from a sibling module — for a splice
        (`spliced`), only from a module that mentions a call a splice keeps."""
        target = self.callee(site)
        if target is not None:
            return self, target
        path = self.imported_call(site)
        if path is None or spliced and not runs_training_calls(path):
            return None  # nothing there a rule reads through a call: not parsed for it
        found = self.module_name(site.node.func.id)
        if len(found) != 1 or found[0].flow is self or found[0].flow is None:
            return None
        val = found[0]
        if val.kind == "function" and val.flow.facts.by_node[val.node].cls is None:
            return val.flow, val.node
        if val.kind == "classdef":
            init = val.flow.method(val.node, "__init__")
            return (val.flow, init) if init is not None else None
        return None


def _top_statements(tree: ast.Module) -> list[ast.stmt]:
    out = []
    for node in tree.body:
        out.append(node)
        if isinstance(node, (ast.Try, ast.If)):
            out += node.body + node.orelse + [n for h in getattr(node, "handlers", ()) for n in h.body]
    return out


def _local(name: str, scope: Scope) -> bool:
    """Whether `name` is bound in the function `scope` itself (it then shadows a module-level import)."""
    fn = scope.node
    return not isinstance(fn, ast.Module) and (name in scope.assigns or name in scope.bound or name in param_names(fn))


def _is_nn(func: ast.Attribute) -> bool:
    return dotted(func.value) in ("nn", "torch.nn")


def _from_torch(func: ast.AST) -> bool:
    base = dotted(func.value) if isinstance(func, ast.Attribute) else ""
    return "(" not in base and base.split(".")[0] in ("torch", "nn", "parallel", "jit")


def param_names(fn: ast.AST) -> list[str]:
    args = fn.args
    return [a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)]


def _position(expr: ast.AST, scope: Scope) -> int:
    """The scope position of a name's read (reads are not numbered by the collecting pass): just after
    the last assignment whose statement ends before the read starts, so `x = f(x)` reads the earlier x."""
    index = scope.ends
    if index is None:
        index = scope.ends = sorted((v.end_lineno, v.end_col_offset, o) for vals in scope.assigns.values() for o, v in vals)
    i = bisect_right(index, (expr.lineno, expr.col_offset, float("inf")))
    return index[i - 1][2] + 1 if i else 0


def _unique(vals: list[Val]) -> tuple[Val, ...]:
    return tuple(dict.fromkeys(vals))


_TEXTS: dict[str, str | None] = {}  # path -> text of the sibling modules read in this run (None: unreadable)
TABLES: dict[str, dict[str, object]] = {}  # module path -> what calling each of its names runs (lint/backward.py)


def parsed(path: str, text: str) -> Flow:
    """The flow of a linted module's text; SyntaxError when it does not parse. The sibling modules its
    lint reads are parsed once for it (`Flow.sibling`), and freed with it (`release`)."""
    return Flow(collect(ast.parse(text, filename=path)), path)


def release(flow: Flow) -> None:
    """A linted module's lint has ended: free it, and every module read for it, now. Each call names its
    scope, whose `calls` name it back, and a value memoised in a flow names that flow (or another one
    read for the same file): left as reference cycles, every tree would wait for a full garbage
    collection and make each one longer — broken here, reference counting frees them at once."""
    flows = [flow, *flow.siblings_read()]
    for each in flows:
        for scope in each.facts.scopes:
            scope.calls.clear()
            scope.in_loop.clear()
    for each in flows:
        vars(each).clear()


def forget() -> None:
    """Start a new lint run: modules are read again (they may have changed)."""
    _TEXTS.clear()
    _WORDS.clear()
    _SPLICED.clear()
    TABLES.clear()


# Words without which a module holds nothing a splice keeps (steps, resets, mode switches, grad modes).
_SPLICE_WORDS = ("backward", "zero_grad", "step(", "eval(", "train(", ".grad", "no_grad", "inference_mode")
_SPLICED: dict[str, bool] = {}


def runs_training_calls(path: str) -> bool:
    """Whether the module at `path` mentions a call a splice keeps (read once per run, not parsed)."""
    if path not in _SPLICED:
        text = _text(path)
        _SPLICED[path] = text is not None and any(w in text for w in _SPLICE_WORDS)
    return _SPLICED[path]



_WORDS: dict[tuple[str, str], bool] = {}  # (path, word) -> whether the module's text holds it, in this run


def mentions(path: str, word: str) -> bool:
    """Whether the text of the module at `path` holds `word` (False when unreadable; each text scanned once
    per word and run, however many files import it)."""
    key = (path, word)
    if key not in _WORDS:
        text = _text(path)
        _WORDS[key] = text is not None and word in text
    return _WORDS[key]


def table_entry(path: str, name: str) -> tuple | None:
    """What `name` is in the module at `path` as its table records it (through re-exports): ("def", whether
    calling it may run a backward()) for a function, a class or nothing, ("value",) for an assigned
    name; None when unknown (the module not read yet in this run, a cycle of imports)."""
    seen = set()
    while (path, name) not in seen:
        seen.add((path, name))
        table = TABLES.get(path)
        if table is None:
            return None
        entry = table.get(name, ("def", False))  # a name the module does not define: nothing
        if entry[0] != "from":
            return entry
        path, name = entry[1], entry[2]
    return None


def _text(path: str) -> str | None:
    if path not in _TEXTS:
        try:
            _TEXTS[path] = Path(path).read_text(encoding="utf-8")
        except (OSError, ValueError):  # absent, a directory, not UTF-8
            _TEXTS[path] = None
    return _TEXTS[path]


# Calls a rule reads through helpers: training steps, gradient resets, mode switches, and calls of a
# name or `self.` attribute (a model's forward). Summaries keep only these, so splicing a helper into
# each of its call sites stays proportional to what the rules read; the model calls are capped per
# summary (the steps, resets and mode switches never are, so a cap cannot hide a zero_grad).
KEY_ATTRS = {"backward", "step", "zero_grad", "zero_", "eval", "train"}
BUILTINS = set(dir(builtins))
_MODEL_CALLS_CAP = 200


def _model_call(site: CallSite) -> bool:
    func = site.node.func
    return isinstance(func, ast.Name) and func.id not in BUILTINS \
        or isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "self"


def summary(flow: Flow, fn: ast.AST) -> list[CallSite]:
    """The calls `fn` (a function of `flow`'s module) runs that a rule reads, its helpers' spliced in."""
    cache = flow.summaries
    if fn in cache:
        return cache[fn]
    cache[fn] = []  # recursion: a function calling itself adds nothing more
    kept, others, seen = [], 0, set()
    for c in splice(flow, flow.facts.by_node[fn].calls):
        key = (c.node, c.loops, c.grad)
        if key in seen:
            continue  # a helper called twice the same way: once is what the rules read (and keeps nesting polynomial)
        seen.add(key)
        if c.attr in KEY_ATTRS:
            kept.append(c)
        elif others < _MODEL_CALLS_CAP and _model_call(c):
            kept.append(c)
            others += 1
    cache[fn] = kept
    return kept


def splice(flow: Flow, calls: list[CallSite]) -> list[CallSite]:
    """`calls` with, after each call of a helper (of this file or imported from a sibling module), the
    helper's own calls (and theirs), placed at the call site: inside its loops, under its grad mode
    unless the helper sets its own, ordered between the call and the next one. Each spliced call
    keeps its own scope (its names are read there) and names the call of `calls` that runs it
    (`via`), where a rule reports what it finds in another file."""
    out: list[CallSite] = []
    for c in calls:
        out.append(c)
        reached = flow.reach(c, spliced=True)
        if reached is None:
            continue
        inner = summary(*reached)
        step = 1 / (len(inner) + 1)
        out += [CallSite(i.node, i.name, c.loops + i.loops, i.grad or c.grad, c.order + (k + 1) * step, i.scope, c)
                for k, i in enumerate(inner)]
    return out


def sources(flow: Flow, expr: ast.expr, scope: Scope, depth: int = 0) -> list[tuple[Scope, ast.expr]] | None:
    """The expressions `expr` comes from, as written: a name's last assignment, a parameter's
    arguments at every call site of its function, a helper's `return` values (a module instance's
    `forward` for a class of this file) — followed until an
    expression is none of those. None when some path cannot be followed (a loop variable, a
    parameter nothing in the file passes, a chain deeper than `_DEPTH`), so a rule that needs every
    path to agree can tell "unknown" from "known"."""
    if depth > _DEPTH:
        return None
    if isinstance(expr, ast.Name):
        if expr.id in scope.bound:
            return None
        found = assignment_before(scope, expr.id, _position(expr, scope))
        if found is not None:
            return sources(flow, found[1], scope, depth + 1)
        fn = scope.node
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) and expr.id in param_names(fn):
            return parameter_sources(flow, fn, expr.id, depth)
        return None
    if isinstance(expr, ast.Call):
        site = flow.site(expr)
        reached = flow.reach(site) if site is not None else None
        forward = _forward(flow, expr, scope) if reached is None else None
        if forward is not None:
            reached = flow, forward
        if reached is not None:
            owner, target = reached
            inner = owner.facts.by_node[target]
            out: list[tuple[Scope, ast.expr]] = []
            for _, value in inner.returns or [(0, None)]:
                found = sources(owner, value, inner, depth + 1) if value is not None else None
                if found is None:
                    return None
                out += found
            return out
    return [(scope, expr)]


def _forward(flow: Flow, call: ast.Call, scope: Scope) -> ast.AST | None:
    """The `forward` a call of a module instance runs, when the instance is of one class of this file."""
    vals = flow.values(call.func, scope)
    classes = {v.node for v in vals if v.kind == "class" and v.flow is flow}
    if len(classes) != 1 or len(vals) != 1:
        return None
    return flow.method(classes.pop(), "forward")


def parameter_sources(flow: Flow, fn: ast.AST, name: str, depth: int = 0) -> list[tuple[Scope, ast.expr]] | None:
    """What every call of `fn` in the file passes for parameter `name` (see `sources`)."""
    sites = flow.callers().get(fn)
    if not sites:
        return None
    out: list[tuple[Scope, ast.expr]] = []
    for site in sites:
        arg = argument_at(site, fn, name, flow)
        found = sources(flow, arg, site.scope, depth + 1) if arg is not None else None
        if found is None:
            return None
        out += found
    return out


def argument_at(site: CallSite, fn: ast.AST, name: str, flow: Flow) -> ast.expr | None:
    """The expression `site` (a call of `fn`) passes for parameter `name`, or None."""
    params = param_names(fn)
    bound = params[1:] if flow.facts.by_node[fn].cls is not None else params  # `self.m(x)`, `Cls(x)`: bound
    arg = next((k.value for k in site.node.keywords if k.arg == name), None)
    if arg is None and name in bound:
        i = bound.index(name)
        if any(isinstance(a, ast.Starred) for a in site.node.args[:i + 1]):
            return None  # `f(*args)`: which argument lands where is unknown
        arg = site.node.args[i] if i < len(site.node.args) else None
    return arg
