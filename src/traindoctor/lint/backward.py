"""What a name imported from a sibling module is, decided without reading the module again when it was
already read in the run: whether calling it may run a backward(), and whether it names a function or
a class (no construction: not a loss, not an optimizer).

A loop whose calls cannot run a backward() cannot train, so the loop rules skip it before splicing
its helpers in — and splicing a helper imported from a sibling module means parsing that module;
likewise a loss rule need not resolve a callee that names a function. Each module read in a run (a
linted file, a sibling read for one) leaves a table of what each of its names is (`tabulate`); a
name imported from a module already tabled is decided from the table. Conservative: unknown (a
name bound by assignment, a module not yet read, a cycle of imports) may run a backward() and may
hold a construction.
"""

from __future__ import annotations

import ast
import os

from .facts import CallSite
from .flow import TABLES, Flow, runs_training_calls, table_entry

_VALUE = ("value",)  # a table entry: assigned, resolved through its values


def may_run_backward(flow: Flow, site: CallSite) -> bool:
    """Whether `site` may run a backward(): itself, in a helper of its file, or in an imported one."""
    if site.attr == "backward":
        return True
    target = flow.callee(site)
    if target is not None:
        return target in _functions(flow)
    return _imported_may(flow, site)


def _imported_may(flow: Flow, site: CallSite) -> bool:
    """A call of a name imported from a sibling module, as `Flow.reach(spliced=True)` follows it."""
    path = flow.imported_call(site)
    if path is None or not runs_training_calls(path):
        return False  # not followed: nothing spliced in
    name = site.node.func.id
    if name in flow._module_scope().assigns:
        return True  # rebound in this file: resolved through its values
    entry = table_entry(os.path.abspath(path), flow.imported_names()[name][1])
    return entry is None or entry == _VALUE or entry[1]


def _functions(flow: Flow) -> set[ast.AST]:
    """The functions of `flow`'s module that may run a backward(), through their helpers (once per flow)."""
    found = flow.__dict__.get("_backward")  # cached on the flow: released with it
    if found is None:
        imported = flow.imported_names()
        found = {s.node for s in flow.facts.scopes if not isinstance(s.node, ast.Module) and any(
            c.attr == "backward" or c.name in imported and _imported_may(flow, c) for c in s.calls)}
        todo, callers = list(found), flow.callers()
        while todo:  # whoever calls one of them may too
            for site in callers.get(todo.pop(), ()):
                fn = site.scope.node
                if fn not in found and not isinstance(fn, ast.Module):
                    found.add(fn)
                    todo.append(fn)
        flow._backward = found
    return found


def tabulate(flow: Flow) -> None:
    """At the end of a file's lint: record, for the files linted after it, what each name of its module —
    and of each sibling module read for it — is, as `Flow.module_name` resolves it. A module read
    again is tabled again: what its own imports run may be known by then."""
    for each in (flow, *flow.siblings_read()):
        if each.path:
            _tabulate(each)


def _tabulate(flow: Flow) -> None:
    module, facts, imported = flow._module_scope(), flow.facts, flow.imported_names()
    table: dict[str, tuple] = {}
    for name in {*module.assigns, *facts.classes, *facts.functions, *imported}:
        if name in module.assigns and name not in module.bound:
            table[name] = _VALUE
        elif name in facts.classes:
            init = flow.method(facts.classes[name], "__init__")
            table[name] = ("def", init is not None and init in _functions(flow))
        elif name in facts.functions and facts.by_node[facts.functions[name]].cls is None:
            table[name] = ("def", facts.functions[name] in _functions(flow))
        elif name in imported:
            table[name] = ("from", os.path.abspath(flow._module_path(imported[name][0])), imported[name][1])
    TABLES[os.path.abspath(flow.path)] = table
