"""A Hypothesis: a possible cause of a finding, with the cheapest check that would falsify it. The
catalog lists the usual ones per code; a producer may give its own."""

from __future__ import annotations

from dataclasses import dataclass

KINDS = ("likely", "subtle", "null")  # null: the finding is expected and harmless


@dataclass
class Hypothesis:
    cause: str
    check: str
    kind: str = "likely"
