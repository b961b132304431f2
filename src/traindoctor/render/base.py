"""What every renderer is: one function of one signature, and what the CLI needs to know about it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..vocabulary.report import Report


@dataclass(frozen=True)
class RenderOptions:
    """How the destination wants the report; a renderer ignores what does not apply to it."""

    color: bool = False  # ANSI colours: only on a terminal that accepts them
    width: int = 100     # columns of a terminal


@dataclass(frozen=True)
class Renderer:
    render: Callable[[Report, RenderOptions], str | bytes]
    description: str     # one line of --help
    suffix: str          # of a file in this format
    # A whole document: on stdout, a script's own prints would corrupt it, so `run` sends them to stderr.
    document: bool = True
    binary: bool = False  # render returns bytes


def stuck_rows(section: dict) -> list[tuple[str, list[dict], str | None, str]]:
    """why_stuck's measurements as the renderers show them: (title, rows, the rows' key or None for a
    training arm, the key's label)."""
    trained = [{"arm": "every term" if k == "all" else f"without {k}", "metric": v}
               for k, v in section["trained"].items()]
    return [("outputs moved along the loss's descent", section["outputs"], "predicted_fall", "loss fall sought"),
            ("parameters stepped along the loss gradient", section["parameters"], "step", "step (of the norm)"),
            (f"copies trained {section['steps']} steps", trained, None, "terms")]
