"""Read logged training curves from the formats users already have.

Every reader returns `{series name: Series}`; a Series is steps and values as float arrays,
sorted by step. Formats: traindoctor's monitor JSONL, CSV (plain, or a Weights & Biases
export), W&B history JSON, TensorBoard event files (tensorboard's own reader), and MLflow run
directories (the file store's `metrics/<key>` files). Bad input raises `CurveError` naming the
file and what to do.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np


class CurveError(ValueError):
    """A log that cannot be read as curves; the message names the file."""


@dataclass
class Series:
    steps: np.ndarray
    values: np.ndarray

    @classmethod
    def of(cls, steps, values) -> "Series":
        s, v = np.asarray(steps, dtype=float), np.asarray(values, dtype=float)
        order = np.argsort(s, kind="stable")
        return cls(s[order], v[order])


def load(path: str | Path, step: str | None = None) -> dict[str, Series]:
    """`step` names the x-axis column of a JSONL/JSON/CSV log when it is not auto-detected
    (`step`, `_step`, `global_step`, `iteration`, ...); TensorBoard and MLflow carry their own."""
    path = Path(path)
    if not path.exists():
        raise CurveError(f"{path}: no such file or directory")
    if path.is_dir():
        curves = _load_dir(path, step)
    elif path.suffix == ".jsonl":
        curves = _from_records(_jsonl(path), path, step)
    elif path.suffix == ".json":
        curves = _from_records(_json(path), path, step)
    elif path.suffix in (".csv", ".tsv"):
        curves = _csv(path, step)
    elif ".tfevents." in path.name:
        curves = _tensorboard(path)
    else:
        raise CurveError(f"{path}: unknown format; expected .jsonl, .json, .csv, a TensorBoard event file, "
                         "or a directory (TensorBoard log dir, MLflow run, traindoctor monitor log_dir)")
    curves = {k: v for k, v in curves.items() if len(v.values)}
    if not curves:
        raise CurveError(f"{path}: no numeric series found (is the file empty?)")
    if all(not np.isfinite(s.values).any() for s in curves.values()):
        raise CurveError(f"{path}: every value is NaN or infinite; nothing to analyze")
    return curves


def _load_dir(path: Path, step: str | None) -> dict[str, Series]:
    if (path / "monitor.jsonl").is_file():
        return _from_records(_jsonl(path / "monitor.jsonl"), path / "monitor.jsonl", step)
    if (path / "metrics").is_dir() and (path / "meta.yaml").is_file():
        return _mlflow(path)
    events = sorted(path.rglob("*.tfevents.*"))
    if events:
        return _tensorboard(path)
    raise CurveError(f"{path}: no monitor.jsonl, MLflow run (meta.yaml + metrics/) or TensorBoard event files inside")


def _jsonl(path: Path) -> list[dict]:
    records = []
    for i, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            if i == 1:
                raise CurveError(f"{path}: line 1 is not JSON; is this a JSONL log?") from None
            break  # a truncated last line: the process was killed mid-write
    return records


def _json(path: Path) -> list[dict]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise CurveError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}); truncated download?") from None
    if isinstance(data, dict):  # {"history": [...]} or a column mapping
        data = data.get("history", data.get("rows", data))
    if isinstance(data, dict):
        return [dict(zip(data, row)) for row in zip(*data.values())]
    if not isinstance(data, list):
        raise CurveError(f"{path}: expected a list of records (W&B `run.history()` exported as JSON)")
    return data


def _from_records(records: list[dict], path: Path, step: str | None = None) -> dict[str, Series]:
    step_key = step or next((k for k in ("step", "_step", "global_step", "Step") if any(k in r for r in records)), None)
    if step and not any(isinstance(r, dict) and step in r for r in records):
        raise CurveError(f"{path}: no field named {step!r} for --step")
    columns: dict[str, tuple[list[float], list[float]]] = {}
    for i, r in enumerate(records):
        if not isinstance(r, dict):
            raise CurveError(f"{path}: record {i + 1} is not an object")
        step = r.get(step_key, i) if step_key else i
        for k, v in _flat(r):
            if k == step_key or k.startswith("_") or isinstance(v, bool):
                continue
            if isinstance(v, str) and v in ("nan", "inf", "-inf", "NaN", "Infinity", "-Infinity"):
                v = float(v.replace("Infinity", "inf"))
            if isinstance(v, (int, float)):
                xs, ys = columns.setdefault(k, ([], []))
                xs.append(step)
                ys.append(v)
    return {k: Series.of(xs, ys) for k, (xs, ys) in columns.items()}


def _flat(record: dict) -> list[tuple[str, object]]:
    """Nested monitor fields as their own series: `lr/0` per param group, `grad_norm_by_module/fc1`."""
    out = []
    for k, v in record.items():
        if isinstance(v, dict):
            out += [(f"{k}/{sub}", x) for sub, x in v.items()]
        elif isinstance(v, list):
            out += [(f"{k}/{i}", x) for i, x in enumerate(v)]
        else:
            out.append((k, v))
    return out


def _csv(path: Path, step_column: str | None = None) -> dict[str, Series]:
    import pandas as pd

    try:  # empty cells are missing points; a written "nan" is a NaN value
        frame = pd.read_csv(path, sep="\t" if path.suffix == ".tsv" else ",", keep_default_na=False, na_values=[""])
    except pd.errors.EmptyDataError:
        raise CurveError(f"{path}: the file is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise CurveError(f"{path}: not a readable CSV ({str(exc).splitlines()[0]})") from None
    # W&B exports name columns "<run name> - loss" and add "__MIN"/"__MAX" bands.
    frame = frame[[c for c in frame.columns if not str(c).endswith(("__MIN", "__MAX"))]]
    frame.columns = [str(c).split(" - ", 1)[1] if " - " in str(c) else str(c) for c in frame.columns]
    if step_column and step_column not in frame.columns:
        raise CurveError(f"{path}: no column named {step_column!r} for --step; columns: {', '.join(map(str, frame.columns[:20]))}")
    step = step_column or next((c for c in frame.columns if c.lower() in ("step", "_step", "global_step", "iteration", "iter")), None)
    steps = pd.to_numeric(frame[step], errors="coerce").to_numpy(dtype=float) if step else np.arange(len(frame), dtype=float)
    out = {}
    for c in frame.columns:
        col = frame[c]
        if c == step:
            continue
        numeric = pd.to_numeric(col, errors="coerce")
        if not pd.api.types.is_numeric_dtype(col):  # text, or numbers mixed with written "nan"/"inf"
            text_nan = (col.astype(str).str.lower() == "nan").sum()
            if numeric.notna().sum() + text_nan < 0.5 * col.notna().sum():
                continue  # a text column (run names, timestamps)
        keep = col.notna().to_numpy() & ~np.isnan(steps)
        out[c] = Series.of(steps[keep], numeric.to_numpy(dtype=float)[keep])
    return out


def _tensorboard(path: Path) -> dict[str, Series]:
    try:
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    except ImportError:
        raise CurveError(f"{path}: reading TensorBoard logs needs tensorboard: pip install 'traindoctor[tensorboard]'") from None
    out: dict[str, Series] = {}
    dirs = [path] if path.is_file() else sorted({p.parent for p in path.rglob("*.tfevents.*")})
    for d in dirs:
        acc = EventAccumulator(str(d), size_guidance={"scalars": 0})  # 0: keep every point
        try:
            acc.Reload()
        except Exception as exc:  # the reader raises several types on corrupt records
            raise CurveError(f"{d}: unreadable TensorBoard event file ({type(exc).__name__}: {exc})") from None
        prefix = "" if d == path or len(dirs) == 1 else f"{d.relative_to(path)}/"
        for tag in acc.Tags().get("scalars", []):
            events = acc.Scalars(tag)
            out[prefix + tag] = Series.of([e.step for e in events], [e.value for e in events])
    return out


def _mlflow(path: Path) -> dict[str, Series]:
    out = {}
    for f in sorted((path / "metrics").rglob("*")):
        if not f.is_file():
            continue
        rows = [line.split() for line in f.read_text().splitlines() if line.strip()]
        try:  # each line: timestamp value step
            steps = [float(r[2]) for r in rows]
            values = [float(r[1]) for r in rows]
        except (IndexError, ValueError):
            raise CurveError(f"{f}: not an MLflow metric file (lines of `timestamp value step`)") from None
        out[str(f.relative_to(path / "metrics"))] = Series.of(steps, values)
    return out
