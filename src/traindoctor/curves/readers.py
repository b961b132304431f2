"""Read logged training curves from the formats users already have.

`read` returns a `Log`: `{series name: Series}` (steps and values as float arrays, sorted by step)
and the notes a report must carry about what was skipped or reinterpreted. Formats:
traindoctor's monitor JSONL, CSV (plain, or a Weights & Biases export), W&B history JSON,
TensorBoard event files (tensorboard's own reader), and MLflow run directories (the file store's
`metrics/<key>` files).

Damage is read around, and said: a corrupt line or row is skipped and counted (a truncated last
line is what a killed writer leaves, and needs no note), a value that is not a number is a
missing point, not a NaN; appended runs are placed by `order.place`. A file with nothing usable
raises `CurveError`, naming the file and what to do.
"""

from __future__ import annotations

import json
import math
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..vocabulary.jsonsafe import jsonl_lines, number
from ..judge.series import Series
from .order import constant, describe, place, skipped

# Axis columns, in order of preference, matched in any case (`Step`, `ITERATION`, `Epoch`).
STEP_COLUMNS = ("step", "_step", "global_step", "iteration", "iter")
EPOCH_COLUMNS = ("epoch", "epochs")


class CurveError(ValueError):
    """A log that cannot be read as curves; the message names the file."""


@dataclass
class Log:
    curves: dict[str, Series]
    notes: list[str] = field(default_factory=list)  # what was skipped or reinterpreted, for the report
    text: dict[str, str] = field(default_factory=dict)  # fields that hold text, not numbers: an example each


def read(path: str | Path, step: str | None = None) -> Log:
    """`step` names the x-axis column of a JSONL/JSON/CSV log when none of `STEP_COLUMNS` is there;
    TensorBoard and MLflow carry their own."""
    path = Path(path)
    if not path.exists():
        raise CurveError(f"{path}: no such file or directory")
    log = Log({})
    try:
        if path.is_dir():
            _read_dir(path, step, log)
        elif path.suffix == ".jsonl":
            _records(_jsonl(path, log), path, step, log, "line")
        elif path.suffix == ".json":
            _records(_json(path), path, step, log, "record")
        elif path.suffix in (".csv", ".tsv"):
            _csv(path, step, log)
        elif ".tfevents." in path.name:
            _tensorboard(path, log)
        else:
            raise CurveError(f"{path}: unknown format; expected .jsonl, .json, .csv, a TensorBoard event file, "
                             "or a directory (TensorBoard log dir, MLflow run, traindoctor monitor log_dir)")
    except OSError as exc:
        raise CurveError(f"{exc.filename or path}: cannot read ({exc.strerror or exc}); check the path and its permissions") from None
    log.curves = {k: v for k, v in log.curves.items() if len(v.values)}
    if not log.curves:
        texts = [f"`{k}` holds text, not numbers (e.g. {v!r})" for k, v in list(log.text.items())[:3]]
        said = f" ({'; '.join(log.notes + texts)})" if log.notes or texts else ""
        raise CurveError(f"{path}: no numeric series found{said}; is the file empty, or not a training log?")
    if all(not np.isfinite(s.values).any() for s in log.curves.values()):
        raise CurveError(f"{path}: every value is NaN or infinite; nothing to analyze")
    return log


def _read_dir(path: Path, step: str | None, log: Log) -> None:
    if (path / "monitor.jsonl").is_file():
        return _records(_jsonl(path / "monitor.jsonl", log), path / "monitor.jsonl", step, log, "line")
    if (path / "metrics").is_dir() and (path / "meta.yaml").is_file():
        return _mlflow(path, log)
    if any(path.rglob("*.tfevents.*")):
        return _tensorboard(path, log)
    raise CurveError(f"{path}: no monitor.jsonl, MLflow run (meta.yaml + metrics/) or TensorBoard event files inside; "
                     "point at the log file itself for a CSV, JSON or JSONL log")


def _jsonl(path: Path, log: Log) -> list[tuple[int, object]]:
    """(line number, parsed object) per line that is JSON; corrupt lines counted in the notes."""
    parsed, bad = jsonl_lines(path)
    if bad:
        if not parsed:
            start = path.read_bytes().split(b"\n")[bad[0] - 1][:40].decode("utf-8", errors="replace")
            raise CurveError(f"{path}: no line is JSON (line {bad[0]} starts {start!r}); is this a JSONL log?")
        log.notes.append(skipped(len(bad), len(parsed) + len(bad), "line", "corrupt", bad))
    return parsed


def _json(path: Path) -> list[tuple[int, object]]:
    try:
        data = json.loads(path.read_bytes())
    except json.JSONDecodeError as exc:
        raise CurveError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}); truncated download?") from None
    except (ValueError, RecursionError) as exc:  # not UTF-8, or nested beyond reason
        raise CurveError(f"{path}: not a JSON text ({type(exc).__name__}); expected W&B `run.history()` saved as JSON") from None
    if isinstance(data, dict):  # {"history": [...]} or a column mapping
        data = data.get("history", data.get("rows", data))
    if isinstance(data, dict):
        if not data or not all(isinstance(v, list) for v in data.values()):
            raise CurveError(f"{path}: expected a list of records or a mapping of column names to lists "
                             "(W&B `run.history()` exported as JSON)")
        data = [dict(zip(data, row)) for row in zip(*data.values())]
    if not isinstance(data, list):
        raise CurveError(f"{path}: expected a list of records (W&B `run.history()` exported as JSON)")
    return list(enumerate(data, 1))


def _records(rows: list[tuple[int, object]], path: Path, step: str | None, log: Log, unit: str) -> None:
    """Records (JSON objects) in logging order to series; rows that are not objects or have no usable
    step are skipped and counted."""
    objects = [(i, r) for i, r in rows if isinstance(r, dict)]
    if len(objects) < len(rows):
        others = [i for i, r in rows if not isinstance(r, dict)]
        log.notes.append(skipped(len(others), len(rows), unit, "not a JSON object", others))
    if step and not any(step in r for _, r in objects):
        raise CurveError(f"{path}: no field named {step!r} for --step")
    present = set()
    for _, r in objects:
        present.update(r)
    step_key = step or _pick(present, STEP_COLUMNS)
    epoch_key = _pick(present, EPOCH_COLUMNS, step_key)
    axes = {step_key, epoch_key}
    labels, steps, epochs, lost = [], [], [], []
    columns: dict[str, tuple[list[int], list[float]]] = {}  # name -> (kept row of each point, value)
    texts: dict[str, list[str]] = {}
    for i, r in objects:
        s = number(r.get(step_key)) if step_key else float(len(steps))
        if s is None or not math.isfinite(s):
            lost.append(i)
            continue
        row = len(steps)
        labels.append(i)
        steps.append(s)
        epochs.append(number(r.get(epoch_key)) if epoch_key else None)
        for k, v in _flat(r):
            if k in axes or k.startswith("_"):
                continue
            value = v if type(v) is float else number(v)
            if value is not None:
                rows, values = columns.get(k) or columns.setdefault(k, ([], []))
                rows.append(row)
                values.append(value)
            elif isinstance(v, str):
                texts.setdefault(k, []).append(v)
    if lost:
        log.notes.append(skipped(len(lost), len(objects), unit, f"no numeric `{step_key}`", lost))
    steps = np.array(steps, dtype=float)
    if constant(steps):
        log.notes.append(f"`{step_key}` is {steps[0]:g} on every {unit}: the logging order is the x axis")
        steps = np.arange(len(steps), dtype=float)
    epochs, labels = np.array(epochs, dtype=float), np.array(labels)  # a missing epoch is NaN
    for k, found in texts.items():
        if k in columns:
            log.notes.append(f"`{k}`: skipped {len(found)} value{'s' * (len(found) > 1)} that are not numbers "
                             f"(e.g. {found[0][:40]!r})")
        else:
            log.text[k] = found[0][:40]
    placed = {}
    for k, (rows, values) in columns.items():
        at = np.array(rows)
        placed[k] = p = place(steps[at], epochs[at] if epoch_key else None, labels[at])
        log.curves[k] = Series.of(p.x[p.keep], np.array(values, dtype=float)[p.keep])
    log.notes += describe(step_key or unit, placed, unit)


def _pick(names, candidates: tuple[str, ...], other: str | None = None) -> str | None:
    """The name among `names` of the first of `candidates` present, in any case; never `other` (the step)."""
    found: dict[str, str] = {}
    for name in names:
        found.setdefault(str(name).lower(), name)
    return next((found[c] for c in candidates if c in found and found[c] != other), None)


MAX_LIST = 64  # a list field is one series per element (`lr` per param group) up to this length


def _flat(record: dict) -> list[tuple[str, object]]:
    """Nested fields as their own series, at any depth: `lr/0` per param group, `grad_norm_by_module/fc1`.
    A loop, not recursion: nesting depth is the file's to choose. A longer list (a histogram, a
    batch of predictions) is not a set of curves, and is left out."""
    out, todo = [], []
    for k, v in record.items():
        if type(v) is dict or type(v) is list:
            todo.append((f"{k}/", v))
        else:
            out.append((k, v))
    while todo:
        prefix, node = todo.pop()
        if isinstance(node, list) and len(node) > MAX_LIST:
            continue
        for k, v in (node.items() if isinstance(node, dict) else enumerate(node)):
            if isinstance(v, (dict, list)):
                todo.append((f"{prefix}{k}/", v))
            else:
                out.append((f"{prefix}{k}", v))
    return out


def _csv(path: Path, step_column: str | None, log: Log) -> None:
    import pandas as pd

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", pd.errors.ParserWarning)
        try:  # empty cells are missing points; a written "nan" is a NaN value
            frame = pd.read_csv(path, sep="\t" if path.suffix == ".tsv" else ",", keep_default_na=False,
                                na_values=[""], on_bad_lines="warn", encoding_errors="replace")
        except pd.errors.EmptyDataError:
            raise CurveError(f"{path}: the file is empty") from None
        except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
            raise CurveError(f"{path}: not a readable CSV ({str(exc).splitlines()[0]})") from None
    count, bad = _bad_lines(caught, pd.errors.ParserWarning)
    if count:
        log.notes.append(skipped(count, len(frame) + count, "line", "the wrong number of fields", bad))
    # W&B exports name columns "<run name> - loss" and add "__MIN"/"__MAX" bands.
    frame = frame[[c for c in frame.columns if not str(c).endswith(("__MIN", "__MAX"))]]
    short = [str(c).split(" - ", 1)[1] if " - " in str(c) else str(c) for c in frame.columns]
    frame.columns = short if len(set(short)) == len(short) else [str(c) for c in frame.columns]  # several runs: keep the run names
    if step_column and step_column not in frame.columns:
        raise CurveError(f"{path}: no column named {step_column!r} for --step; columns: {', '.join(map(str, frame.columns[:20]))}")
    step = step_column or _pick(frame.columns, STEP_COLUMNS)
    rows = np.arange(1, len(frame) + 1)  # data rows, the header not counted
    steps = pd.to_numeric(frame[step], errors="coerce").to_numpy(dtype=float) if step else np.arange(len(frame), dtype=float)
    usable = np.isfinite(steps)
    if not usable.all():
        lost = rows[~usable].tolist()
        log.notes.append(skipped(len(lost), len(frame), "data row", f"no numeric `{step}`", lost))
    if constant(steps[usable]):
        log.notes.append(f"`{step}` is {steps[usable][0]:g} on every row: the row order is the x axis")
        steps = np.arange(len(frame), dtype=float)
    epoch = _pick(frame.columns, EPOCH_COLUMNS, step)
    epochs = pd.to_numeric(frame[epoch], errors="coerce").to_numpy(dtype=float) if epoch else None
    placed = {}
    for c in frame.columns:
        if c in (step, epoch):
            continue  # the axes
        col = frame[c]
        numeric = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float)
        present = col.notna().to_numpy() & usable
        if pd.api.types.is_numeric_dtype(col):
            readable = present
        else:  # text cells: numbers written as text ("0.5", "nan", "inf") are values; anything else is not a point
            spelled = col.astype(str).str.strip().str.lower().isin(("nan", "+nan", "-nan")).to_numpy()
            readable = present & (~np.isnan(numeric) | spelled)
            garbage = present & ~readable
            if readable.sum() < garbage.sum():
                if present.any():
                    log.text[c] = str(col[present].iloc[0])[:40]
                continue  # a text column (run names, timestamps)
            if garbage.any():
                count = int(garbage.sum())
                log.notes.append(f"`{c}`: skipped {count} value{'s' * (count > 1)} that are not "
                                 f"numbers (e.g. {str(col[garbage].iloc[0])[:40]!r})")
        placed[c] = p = place(steps[readable], epochs[readable] if epoch else None, rows[readable])
        log.curves[c] = Series.of(p.x[p.keep], numeric[readable][p.keep])
    log.notes += describe(step or "row", placed, "data row")


_LINE_NUMBER = re.compile(r"\bline\D{0,3}(\d+)", re.I)


def _bad_lines(caught: list, category: type) -> tuple[int, list[int]]:
    """How many rows pandas skipped, and their line numbers, from its warnings: one message line per row
    ("Skipping line 21: expected 3 fields, saw 4"). Its wording is not an API: when the numbers cannot
    be found, the count of message lines is still said, without them."""
    said = [line for w in caught if issubclass(w.category, category) for line in str(w.message).splitlines() if line.strip()]
    numbers = [int(m.group(1)) for m in map(_LINE_NUMBER.search, said) if m]
    return len(said), numbers if len(numbers) == len(said) else []


def _tensorboard(path: Path, log: Log) -> None:
    try:
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    except ImportError:
        raise CurveError(f"{path}: reading TensorBoard logs needs tensorboard: pip install 'traindoctor[tensorboard]'") from None
    dirs = [path] if path.is_file() else sorted({p.parent for p in path.rglob("*.tfevents.*")})
    failed = []
    for d in dirs:
        # 0: keep every point. A step that goes back purges the later points (TensorBoard's restart rule).
        acc = EventAccumulator(str(d), size_guidance={"scalars": 0})
        try:
            acc.Reload()
        except Exception as exc:  # the reader raises several types on corrupt records
            failed.append(f"{d} ({type(exc).__name__}: {str(exc)[:80]})")
            continue
        prefix = "" if d == path or len(dirs) == 1 else f"{d.relative_to(path)}/"
        for tag in acc.Tags().get("scalars", []):
            events = acc.Scalars(tag)
            log.curves[prefix + tag] = Series.of([e.step for e in events], [e.value for e in events])
    if not log.curves and not failed:
        raise CurveError(f"{path}: no scalar summaries in {len(dirs)} TensorBoard event director{'ies' if len(dirs) > 1 else 'y'} "
                         "(not TensorBoard data, or only images/histograms were logged); log the loss with add_scalar")
    if failed:
        if len(failed) == len(dirs):
            raise CurveError(f"{path}: unreadable TensorBoard event file ({failed[0]}); is the file complete?")
        log.notes.append(f"skipped {len(failed)} unreadable TensorBoard event director{'ies' if len(failed) > 1 else 'y'}: "
                         + "; ".join(failed[:3]))


def _mlflow(path: Path, log: Log) -> None:
    """Each `metrics/<key>` file: lines of `timestamp value step` (no step before MLflow 1.0: the line order)."""
    unreadable, stepless, placed = [], [], {}
    for f in sorted((path / "metrics").rglob("*")):
        if not f.is_file():
            continue
        name = str(f.relative_to(path / "metrics"))
        lines = f.read_bytes().decode("utf-8", errors="replace").splitlines()
        steps, values, good, bad = [], [], [], []
        for i, line in enumerate(lines, 1):
            parts = line.split()
            if not parts:
                continue
            value = number(parts[1]) if len(parts) in (2, 3) else None
            step = number(parts[2]) if len(parts) == 3 else float(len(steps))
            if value is None or step is None or not np.isfinite(step):
                bad.append(i)
            else:
                steps.append(step)
                values.append(value)
                good.append(i)
        if not steps:
            unreadable.append(name)
            continue
        if bad:
            log.notes.append(f"`{name}`: " + skipped(len(bad), len(steps) + len(bad), "line", "not `timestamp value step`", bad))
        if constant(np.array(steps)):  # logged without a step: MLflow writes 0
            steps = list(range(len(steps)))
            stepless.append(name)
        placed[name] = p = place(np.array(steps, dtype=float), None, np.array(good))
        log.curves[name] = Series.of(p.x[p.keep], np.array(values)[p.keep])
    log.notes += describe("step", placed, "line")
    if stepless:
        log.notes.append(f"{', '.join(stepless[:5])}: one step on every line (logged without step=); the logging order is the x axis")
    if unreadable:
        log.notes.append(f"skipped {len(unreadable)} file{'s' * (len(unreadable) > 1)} of metrics/ that are not MLflow "
                         f"metric files ({', '.join(unreadable[:5])})")
