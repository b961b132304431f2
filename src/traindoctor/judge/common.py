"""Helpers shared by the rules."""

from __future__ import annotations

from typing import Any


from ..measure.recorder import Recorder, RootInfo


def modules_of_type(rec: Recorder, *types: type) -> list[str]:
    """Qualified names of the model's modules of the given types, across top-level models."""
    names = []
    for info in rec.roots.values():
        names += [n for n, m in info.module.named_modules() if isinstance(m, types) and n]
    return names


def main_model(rec: Recorder) -> RootInfo | None:
    """The top-level module with the most training calls."""
    trained = [i for i in rec.roots.values() if i.grad_calls]
    return max(trained, key=lambda i: i.grad_calls) if trained else None


def where(evidence: dict[str, Any]) -> str:
    loc = evidence.get("location") or {}
    return f" ({loc['file']}:{loc['line']})" if loc.get("file") else ""


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"

