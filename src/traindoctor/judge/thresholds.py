"""Every number a rule decides with, defined once, with where it comes from.

A threshold is a module-level constant with the comment above it saying its source (a paper, a
tool's documented default, or a measurement on healthy runs named in the docs). Rules import
them from here; `docs/thresholds.md` is generated from this file
(`python -m traindoctor.judge.thresholds`). A healthy run must stay silent: when a threshold
trades a miss against a false alarm, it sides with silence and says so.
"""

from __future__ import annotations

# ── step series (run after the fact, the Monitor online, curves on logged columns) ──────────────

# ── loss functions and their inputs ─────────────────────────────────────────────────────────────

# ── probes (diagnosis/) ─────────────────────────────────────────────────────────────────────────
