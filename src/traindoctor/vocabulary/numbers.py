"""How findings write numbers, and which values count as numbers: shared by every rule."""

from __future__ import annotations

import math
from typing import Any


def fmt(x: float | None) -> str:
    """A number as a person would write it: 2.3, 0.0412, 1.20e-06, 3.40e+05."""
    if x is None:
        return "n/a"
    if not math.isfinite(x):
        return str(x)
    a = abs(x)
    if a == 0:
        return "0"
    if a < 1e-3 or a >= 1e5:
        return f"{x:.2e}"
    return f"{x:.3g}" if a < 100 else f"{x:.1f}"


def power(x: float) -> str:
    """An update/weight ratio as a power of ten, the way the ~1e-3 rule of thumb is stated."""
    return f"10^{math.log10(x):.1f}" if x > 0 else "0 (the weights did not move)"


def is_number(x: Any) -> bool:
    """A real number as a record holds it (a bool is not one)."""
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def finite(x: Any) -> bool:
    return is_number(x) and math.isfinite(x)


def nonfinite(x: Any) -> bool:
    """A number that is NaN or Inf (None and non-numbers are neither finite nor this)."""
    return is_number(x) and not math.isfinite(x)
