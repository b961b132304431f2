"""The benchmark's cases: a name, the codes accepted as the planted fault's root cause (or "healthy"), the
domain, and a function building the arguments of `audit_data`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

CASES: list["Case"] = []


@dataclass
class Case:
    name: str
    expect: list[str]
    domain: str
    category: str
    make: Callable[[], dict]
    split: str = ""

    @property
    def healthy(self) -> bool:
        return self.expect == ["healthy"]


def case(name: str, expect, domain: str, category: str = ""):
    def register(make: Callable[[], dict]) -> Callable[[], dict]:
        CASES.append(Case(name, ["healthy"] if expect == "healthy" else list(expect), domain, category, make))
        return make
    return register
