"""The lint rules register themselves: `@rule(code)` on a check function in any module of
`lint/rules/`, whose docstring documents how the rule decides and where it is blind. The engine
and the docs generator discover them here; there is no list to edit.

A rule's docstring has exactly three sections, in this order (what the code means, why it matters
and its example live in the catalog entry, shared with the runtime checks):

    ## How it decides
    ## Known false negatives
    ## Known false positives
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from .facts import Facts
    from .rules.common import Context, Diagnostic

    Check = Callable[[Facts, Context, list[Diagnostic]], None]

SECTIONS = ("How it decides", "Known false negatives", "Known false positives")


@dataclass(frozen=True)
class Rule:
    code: str
    check: Check
    decides: str
    misses: str
    false_alarms: str


_REGISTERED: dict[str, Rule] = {}


def rule(code: str) -> Callable[[Check], Check]:
    """Register the decorated function as the check for `code` (one function per code)."""

    def register(check: Check) -> Check:
        if code in _REGISTERED:
            raise ValueError(f"lint rule {code!r} is registered twice ({_REGISTERED[code].check.__qualname__}, {check.__qualname__})")
        _REGISTERED[code] = Rule(code, check, *_sections(check))
        return check

    return register


def _sections(check: Check) -> list[str]:
    head, *parts = inspect.cleandoc(check.__doc__ or "").split("## ")
    titles = tuple(p.partition("\n")[0].strip() for p in parts)
    texts = [p.partition("\n")[2].strip() for p in parts]
    if head.strip() or titles != SECTIONS or not all(texts):
        raise ValueError(f"{check.__module__}.{check.__qualname__}: the docstring must hold exactly the sections "
                         f"{', '.join('## ' + s for s in SECTIONS)}, in that order, none empty; found {titles}")
    return texts


@cache
def all_rules() -> tuple[Rule, ...]:
    """Every rule of `lint/rules/`, in module-name order, then in the order each module defines them."""
    from . import rules as package

    for module in sorted(m.name for m in pkgutil.iter_modules(package.__path__)):
        importlib.import_module(f"{package.__name__}.{module}")
    return tuple(_REGISTERED.values())
