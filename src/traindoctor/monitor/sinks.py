"""Where monitor records go: JSONL (default, crash-safe), CSV, TensorBoard, Weights & Biases, MLflow.

A sink has `write(records)` and `close()`. Every sink, a user's own included, receives records
made JSON-safe by one step, `jsonsafe.plain` (NaN/Inf as the strings "nan", "inf", "-inf" at any
depth); `jsonsafe.restored` turns them back into floats when a log is read. The three tracking libraries are
optional extras, imported only when their sink is asked for; W&B and MLflow log into the user's
active run when there is one (under a `traindoctor/` prefix), else open their own.
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..vocabulary.jsonsafe import jsonl_lines, restored

FILE_SINKS = ("jsonl", "csv", "tensorboard")


def make_sinks(specs: Iterable[str | Any], log_dir: Path | None) -> list[Any]:
    """Sinks from names ("jsonl", "csv", "tensorboard", "wandb", "mlflow") or ready objects."""
    sinks = []
    for spec in specs:
        if not isinstance(spec, str):
            sinks.append(spec)
            continue
        if spec in FILE_SINKS and log_dir is None:
            if spec == "jsonl":
                continue  # the default: no log_dir, no file
            raise ValueError(f"the {spec!r} sink writes files: pass Monitor(log_dir=...)")
        if spec == "jsonl":
            sinks.append(JsonlSink(log_dir / "monitor.jsonl"))
        elif spec == "csv":
            sinks.append(CsvSink(log_dir / "monitor.csv"))
        elif spec == "tensorboard":
            sinks.append(TensorBoardSink(log_dir))
        elif spec == "wandb":
            sinks.append(WandbSink(log_dir))
        elif spec == "mlflow":
            sinks.append(MlflowSink())
        else:
            raise ValueError(f"unknown sink {spec!r}; choose from jsonl, csv, tensorboard, wandb, mlflow")
    return sinks


def _optional(module: str, extra: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(f"this sink needs {extra!r}: pip install 'traindoctor[{extra}]'") from exc


class JsonlSink:
    """One JSON object per line, flushed per batch of records: a killed process leaves a file
    that parses up to its last complete line."""

    def __init__(self, path: Path):
        self.path = path
        self._file = open(path, "a", encoding="utf-8")

    def write(self, records: list[dict[str, Any]]) -> None:
        self._file.write("".join(json.dumps(r, allow_nan=False) + "\n" for r in records))
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
        if self._writer is None:  # columns: every key of the first batch (sampled steps carry more)
            fields = list(dict.fromkeys(k for row in rows for k in row))
            self._writer = csv.DictWriter(self._file, fieldnames=fields, extrasaction="ignore")
            self._writer.writeheader()
        self._writer.writerows(rows)
        self._file.flush()

    def close(self) -> None:
        self._file.close()


class TensorBoardSink:
    """Scalars under `traindoctor/<name>` in an event file in log_dir (read by `tensorboard --logdir`)."""

    def __init__(self, log_dir: Path):
        _optional("tensorboard", "tensorboard")
        from torch.utils.tensorboard import SummaryWriter

        self._writer = SummaryWriter(log_dir=str(log_dir))

    def write(self, records: list[dict[str, Any]]) -> None:
        for r in records:
            for k, v in _numbers(r):
                self._writer.add_scalar(f"traindoctor/{k}", v, r["step"])
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()


class WandbSink:
    """Logs into the active W&B run, else starts one (honours WANDB_MODE, e.g. offline)."""

    def __init__(self, log_dir: Path | None):
        self._wandb = _optional("wandb", "wandb")
        self._own = self._wandb.run is None
        self._run = self._wandb.run or self._wandb.init(project="traindoctor", dir=str(log_dir) if log_dir else None)
        self._run.define_metric("traindoctor/*", step_metric="traindoctor/step")

    def write(self, records: list[dict[str, Any]]) -> None:
        for r in records:
            self._run.log({f"traindoctor/{k}": v for k, v in _numbers(r)} | {"traindoctor/step": r["step"]})

    def close(self) -> None:
        if self._own:
            self._run.finish()


class MlflowSink:
    """Metrics in the active MLflow run, else a new one (tracking URI from MLFLOW_TRACKING_URI)."""

    def __init__(self) -> None:
        self._mlflow = _optional("mlflow", "mlflow")
        self._own = self._mlflow.active_run() is None
        self._run = self._mlflow.active_run() or self._mlflow.start_run(run_name="traindoctor")

    def write(self, records: list[dict[str, Any]]) -> None:
        for r in records:
            metrics = {_mlflow_key(f"traindoctor/{k}"): v for k, v in _numbers(r) if math.isfinite(v)}
            self._mlflow.log_metrics(metrics, step=r["step"], run_id=self._run.info.run_id)

    def close(self) -> None:
        if self._own:
            self._mlflow.end_run()


def _numbers(record: dict[str, Any]) -> list[tuple[str, float]]:
    """The record's scalars, non-finite ones as floats again (TensorBoard and W&B plot NaN/Inf)."""
    flat = restored(_flatten(record))
    return [(k, float(v)) for k, v in flat.items()
            if k != "step" and isinstance(v, (int, float)) and not isinstance(v, bool)]


def _mlflow_key(key: str) -> str:
    return re.sub(r"[^\w\-./ ]", "_", key)  # MLflow accepts letters, digits, _ - . / and spaces


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
    """Records of a monitor log, numbers restored; see `scan_jsonl`."""
    return scan_jsonl(path)[0]


def scan_jsonl(path: Path) -> tuple[list[dict[str, Any]], list[int]]:
    """(records, numbers of the lines that are not records), read by `jsonsafe.jsonl_lines` (damage
    skipped, not the rest of the file). Fields attached to a step after it was written
    (`Monitor.log_last`) come as a later line with the same step and are merged into it."""
    records: list[dict[str, Any]] = []
    rows, bad = jsonl_lines(path)
    for number, record in rows:
        if not isinstance(record, dict) or not isinstance(record.get("step"), int):
            bad.append(number)
            continue
        record = restored(record)
        if records and records[-1]["step"] == record["step"]:
            records[-1].update(record)
        else:
            records.append(record)
    return records, sorted(bad)
