"""JSON in and out, one set of rules for every producer and reader (torch-free: `report` and
`curves` stay quick).

JSON has no NaN or Inf, and training logs are where they matter: `plain` writes them as the
strings "nan", "inf", "-inf" (at any depth) and `restored` turns them back; `number` reads any
logged value as a float. `jsonl_lines` reads a JSON-lines file around its damage.
"""

from __future__ import annotations

import json
import math
import numbers
from pathlib import Path
from typing import Any

_NONFINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def plain(obj: Any) -> Any:
    """A JSON-safe copy at every nesting level: non-finite floats as "nan"/"inf"/"-inf", tuples as
    lists, keys as strings, number-like objects (numpy scalars, 1-element tensors) as numbers,
    anything else as its str()."""
    if obj is None or isinstance(obj, (str, bool, int)):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else str(obj)
    if isinstance(obj, dict):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    try:
        return int(obj) if isinstance(obj, numbers.Integral) else plain(float(obj))
    except Exception:  # not a number: keep it readable rather than fail the write
        return str(obj)


def dumps(obj: Any) -> str:
    """The text of a JSON file written by traindoctor (report.json, `--format json`)."""
    return json.dumps(plain(obj), indent=2, allow_nan=False) + "\n"


def restored(obj: Any) -> Any:
    """The inverse of `plain` for numbers: "nan"/"inf"/"-inf" back to floats, at every nesting level."""
    if isinstance(obj, str):
        return _NONFINITE.get(obj, obj)
    if isinstance(obj, dict):
        return {k: restored(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [restored(v) for v in obj]
    return obj


def number(value: object) -> float | None:
    """A logged value as a float: numbers, and text that spells one ("0.5", "nan", "inf", "-Infinity");
    None for anything else (text, null, booleans, containers)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        try:
            return float(value)
        except OverflowError:  # an integer beyond float range
            return math.inf if value > 0 else -math.inf  # copysign would convert it too
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def jsonl_lines(path: Path) -> tuple[list[tuple[int, Any]], list[int]]:
    """((line number, parsed value) per line that is JSON, numbers of the lines that are damaged).
    Blank lines and the zero bytes a crash can leave are nothing; a last line without its newline
    is what a killed writer leaves, not damage. Raises OSError when the file cannot be read."""
    lines = Path(path).read_bytes().decode("utf-8", errors="replace").split("\n")
    parsed, bad = [], []
    for i, line in enumerate(lines, 1):
        if not line.strip(" \t\r\x00"):
            continue
        try:
            parsed.append((i, json.loads(line)))
        except (ValueError, RecursionError):  # RecursionError: nested beyond the parser's depth
            if i < len(lines):
                bad.append(i)
    return parsed, bad
