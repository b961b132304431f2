"""Lint rules: each module exposes `RULES`, a list of functions (facts, ctx) -> [Diagnostic]."""

from __future__ import annotations

from . import loop, loss, misc, modes

RULES = [*loss.RULES, *loop.RULES, *modes.RULES, *misc.RULES]
