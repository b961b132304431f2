"""The catalog: every finding code traindoctor can emit, with its explanation.

Producers name a code; everything else a reader needs (title, default severity, why it matters, the
usual hypotheses and their falsifiers) lives here once, so `lint`, `run` and the other producers speak
one vocabulary. `docs/codes.md` is generated from it (`make docs`).

`stage` follows the triage tree of the debugging playbook (exception -> NaN -> init loss -> cannot
overfit -> stuck -> explodes -> train/val gap -> loss/metric mismatch -> constant output). Mechanism
bugs that *cause* those symptoms (double softmax, forgotten zero_grad, ...) sit just after the
exception stage, so a confirmed cause is read before the symptom it explains.

To add a code: append a `Code(...)` to `CODES` in the module of its area (`loss.py`, `data.py`, ...;
a new area is a new module registered in `CATALOG` below), with `code`, `title`, `severity`, `stage`,
`what`, `why`, `hypotheses`, `next_step`, and `bad`/`good` examples and `explains` where they apply.
A code no producer emits yet says in `planned` which work will emit it. Then run `make docs`.
tests/vocabulary/test_catalog.py checks every entry is complete, that each code is emitted somewhere
in src/ or planned, and that docs/codes.md is in sync.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..hypothesis import KINDS, Hypothesis

SEVERITIES = ("error", "warning", "info")

# Triage stages, in reading order.
EXCEPTION, BAD_DATA, MECHANISM, NONFINITE, INIT_LOSS, OVERFIT, STUCK, EXPLODES, GAP, MISMATCH, CONSTANT = range(11)


@dataclass(frozen=True, kw_only=True)
class Code:
    code: str
    area: str = ""  # set from the area module's AREA when registered
    title: str
    severity: str
    stage: int
    what: str
    why: str
    hypotheses: tuple[Hypothesis, ...]
    next_step: str
    bad: str = ""  # a minimal example of the bug, and `good` the same code fixed
    good: str = ""
    explains: tuple[str, ...] = ()  # symptoms this cause accounts for
    planned: str = ""  # no producer emits the code yet: the work that will


# Imported here, after Code and the stages they use: each area module lists its codes.
from . import (  # noqa: E402
    architecture, curves, data, data_domains, jax, loss, meta, modes, numerics, optimization, security, sweeps,
)


def _register(*areas) -> dict[str, Code]:
    catalog: dict[str, Code] = {}
    for area in areas:
        for entry in area.CODES:
            assert entry.severity in SEVERITIES and entry.code not in catalog, entry.code
            assert all(h.kind in KINDS for h in entry.hypotheses), entry.code
            catalog[entry.code] = replace(entry, area=area.AREA)
    return catalog


# Areas in reading order: docs/codes.md lists them so.
CATALOG: dict[str, Code] = _register(loss, optimization, modes, numerics, data, data_domains, architecture, security, curves,
                                     sweeps, jax, meta)


def get(code: str) -> Code:
    try:
        return CATALOG[code]
    except KeyError:
        raise KeyError(f"unknown finding code {code!r}; add it to traindoctor/vocabulary/catalog/") from None
