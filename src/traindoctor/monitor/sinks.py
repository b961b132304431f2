"""Where monitor records go: JSONL (default, crash-safe) and CSV."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any


def _plain(record: dict[str, Any]) -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, float) and not math.isfinite(v) else v) for k, v in record.items()}


class JsonlSink:
    """One JSON object per line, flushed per batch of records: a killed process leaves a file
    that parses up to its last complete line."""

    def __init__(self, path: Path):
        self.path = path
        self._file = open(path, "a", encoding="utf-8")

    def write(self, records: list[dict[str, Any]]) -> None:
        self._file.write("".join(json.dumps(_plain(r), allow_nan=False) + "\n" for r in records))
        self._file.flush()

    def close(self) -> None:
        self._file.close()


class CsvSink:
    """Flat scalar columns (nested per-module values are spread as `grad_norm/<module>`)."""

    def __init__(self, path: Path):
        self.path = path
        self._file = open(path, "a", newline="", encoding="utf-8")
        self._writer: csv.DictWriter | None = None

    def write(self, records: list[dict[str, Any]]) -> None:
        rows = [_flatten(r) for r in records]
        if not rows:
            return
        if self._writer is None:
            self._writer = csv.DictWriter(self._file, fieldnames=list(rows[0]), extrasaction="ignore")
            self._writer.writeheader()
        self._writer.writerows(rows)
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def _flatten(record: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in record.items():
        if isinstance(v, dict):
            out.update({f"{k}/{kk}": vv for kk, vv in v.items()})
        elif isinstance(v, list):
            out.update({f"{k}/{i}": vv for i, vv in enumerate(v)})
        else:
            out[k] = v
    return out


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Records of a monitor log; a truncated last line (killed process) is ignored."""
    records = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            break
    return records
