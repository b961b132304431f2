"""Read a sweep: one row per run, its configuration, seed, group and metrics, from what users have.

Formats: a table of runs (CSV/TSV, parquet, or JSON — a W&B runs export, the seeds' cached parquet,
or a plain table of runs x config x seed x metric; a long table with a step column and repeated run
ids is one run per id), MLflow's file store (an `mlruns/` directory: each run's `params/` and
`metrics/` files), and a directory of TensorBoard runs (one sub-directory of event files per run; its
configuration from the hparams plugin or from `key=value` parts of its path).

`read` returns `Runs`: the table, which columns are known to be configuration and which metrics (a
W&B JSON export, MLflow and TensorBoard say so; a flat table leaves it to inference), each run's
metric history where the format keeps one (for --best), and notes on what was read around.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..measure.records import StepRecord
from ..vocabulary.jsonsafe import jsonl_lines, restored

# Step columns of a long table (one row per run and step), in any case.
_STEP = ("step", "_step", "global_step", "iteration", "iter", "epoch")
_RUN = ("run_id", "run", "id", "name", "run_name")
_ASSIGN = re.compile(r"([A-Za-z_][\w.\-]*?)[=:]([^,/\s]+)")


class SweepError(ValueError):
    """A sweep that cannot be read; the message names the path and what to do."""


@dataclass
class Runs:
    frame: pd.DataFrame  # one row per run
    run: str  # the column naming each run
    config: list[str] | None = None  # columns known to be configuration; None: to be inferred
    metrics: list[str] | None = None  # columns known to be metrics; None: to be inferred
    history: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)  # run -> metric -> values in step order
    notes: list[str] = field(default_factory=list)


def read(source: str | Path | pd.DataFrame) -> Runs:
    """The runs of a sweep from a path or a DataFrame (one row per run, or one per run and step)."""
    if isinstance(source, pd.DataFrame):
        return _table(source.copy(), "the table")
    path = Path(source)
    if not path.exists():
        raise SweepError(f"{path}: no such file or directory")
    try:
        if path.is_dir():
            return _directory(path)
        suffix = path.suffix.lower()
        if suffix in (".csv", ".tsv"):
            return _table(pd.read_csv(path, sep="\t" if suffix == ".tsv" else ","), str(path))
        if suffix == ".parquet":
            return _table(pd.read_parquet(path), str(path))
        if suffix in (".json", ".jsonl"):
            return _json(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise SweepError(f"{path}: not a readable table ({type(exc).__name__}: {str(exc)[:120]})") from None
    except OSError as exc:
        raise SweepError(f"{path}: cannot read ({exc.strerror or exc})") from None
    raise SweepError(f"{path}: unknown format; expected .csv, .tsv, .parquet, .json/.jsonl (a W&B runs export), "
                     "an mlruns/ directory or a directory of TensorBoard runs")


# ── tables ────────────────────────────────────────────────────────────────────

def _table(frame: pd.DataFrame, where: str) -> Runs:
    if frame.empty:
        raise SweepError(f"{where}: no runs (the table is empty)")
    frame.columns = [str(c) for c in frame.columns]
    config, metrics = _prefixed(frame)
    run = _column(frame, _RUN)
    step = _column(frame, _STEP)
    if run and step and frame[run].duplicated().any():
        return _long(frame, run, step, where, config, metrics)
    if run is None or frame[run].duplicated().any():
        frame.insert(0, "run", [f"row {i + 1}" for i in range(len(frame))])
        run = "run"
    frame[run] = frame[run].astype(str)
    return Runs(frame.reset_index(drop=True), run, config, metrics)


def _prefixed(frame: pd.DataFrame) -> tuple[list[str] | None, list[str] | None]:
    """`config.lr` / `summary.acc` columns (the seeds' parquet cache, a flattened W&B export): the
    prefix says the role; it is dropped from the name."""
    found = {c: m for c in frame.columns if (m := re.match(r"(config|summary)[./](.+)", c, re.I))}
    if not found:
        return None, None
    frame.rename(columns={c: m.group(2) for c, m in found.items()}, inplace=True)
    named = [(m.group(1).lower(), m.group(2)) for m in found.values() if not m.group(2).startswith("_")]
    config = [n for role, n in named if role == "config"]
    metrics = [n for role, n in named if role == "summary"] or None
    return config, metrics


def _long(frame: pd.DataFrame, run: str, step: str, where: str, config, metrics) -> Runs:
    """One row per run and step: a run's configuration is constant over its rows, its metrics are series."""
    frame = frame.sort_values([run, step], kind="stable")
    frame[run] = frame[run].astype(str)
    groups = frame.groupby(run, sort=False)
    constant = [c for c in frame.columns if c not in (run, step) and (groups[c].nunique(dropna=False) <= 1).all()]
    series = [c for c in frame.columns if c not in constant and c not in (run, step)
              and pd.api.types.is_numeric_dtype(frame[c])]
    rows, history = [], {}
    for name, g in groups:
        row = {run: name, **{c: g[c].iloc[0] for c in constant}}
        history[name] = {m: g[m].to_numpy(dtype=float) for m in series}
        rows.append(row)
    runs = Runs(pd.DataFrame(rows), run, config, metrics or series, history,
                [f"{where}: one row per run and `{step}`; {len(rows)} runs, metrics {', '.join(series[:6])} read as series"])
    for m in series:  # the final value stands in the table; --best reads the history
        runs.frame[m] = [_last(history[r][m]) for r in runs.frame[run]]
    return runs


def _last(values: np.ndarray) -> float:
    """The final value of a series: the last logged one (NaN at the end is the run's end: kept)."""
    return float(values[-1]) if len(values) else float("nan")


def _column(frame: pd.DataFrame, names: tuple[str, ...]) -> str | None:
    lower = {c.lower(): c for c in frame.columns}
    return next((lower[n] for n in names if n in lower), None)


# ── JSON: a W&B runs export ([{name, group, config, summary}, ...]) or plain records ──────────────

def _json(path: Path) -> Runs:
    text = path.read_text()
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else [json.loads(line) for line in text.splitlines() if line.strip()]
    except json.JSONDecodeError as exc:
        raise SweepError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if isinstance(data, dict):
        data = data.get("runs", data.get("rows", data))
    if isinstance(data, dict) and all(isinstance(v, list) for v in data.values()):
        return _table(pd.DataFrame(data), str(path))
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise SweepError(f"{path}: expected a list of runs (W&B: [{{name, group, config, summary}}, ...]) or records")
    if not any(isinstance(r.get("config"), dict) for r in data):
        return _table(pd.DataFrame(data), str(path))
    rows, config, metrics = [], {}, {}
    for i, r in enumerate(data):
        row = {k: v for k, v in r.items() if not isinstance(v, (dict, list))}
        row.setdefault("name", r.get("id", f"run {i + 1}"))
        for k, v in (r.get("config") or {}).items():
            if not k.startswith("_"):  # W&B's own (_wandb)
                config[k] = row[k] = v.get("value") if isinstance(v, dict) and "value" in v else v
        for k, v in (r.get("summary") or r.get("summary_metrics") or {}).items():
            if not k.startswith("_") and not isinstance(v, (dict, list)):
                metrics[k] = row[k] = v
        rows.append(row)
    runs = _table(pd.DataFrame(rows), str(path))
    runs.config, runs.metrics = list(config), list(metrics)
    return runs


# ── directories: MLflow's file store, TensorBoard runs ────────────────────────

def _directory(path: Path) -> Runs:
    mlflow = sorted({p.parent for p in path.rglob("params") if p.is_dir() and (p.parent / "metrics").is_dir()})
    if mlflow:
        return _mlflow(path, mlflow)
    monitors = sorted({p.parent for p in path.rglob("monitor.jsonl")})
    if monitors:
        return _monitor(path, monitors)
    events = sorted({p.parent for p in path.rglob("*.tfevents.*")})
    if events:
        return _tensorboard(path, events)
    raise SweepError(f"{path}: no MLflow runs (params/ and metrics/ folders), traindoctor Monitor runs (monitor.jsonl) "
                     "or TensorBoard event files inside; point at a CSV, parquet or JSON export for W&B or a plain table")


# The Monitor's own measurements in a step record; everything else logged beside the loss is the user's.
_MONITOR_OWN = set(StepRecord.__annotations__) - {"loss"}


def _monitor(root: Path, dirs: list[Path]) -> Runs:
    """traindoctor Monitor runs, a log_dir each: the parameters from the folder names (`lr=0.001,seed=3`),
    the loss and every number logged with it as metrics (the Monitor's own measurements left out)."""
    rows, history, metrics, config, notes = [], {}, set(), set(), []
    for d in dirs:
        name = str(d.relative_to(root)) if d != root else d.name
        lines, _ = jsonl_lines(d / "monitor.jsonl")
        series: dict[str, list[float]] = {}
        for _, record in lines:
            if not isinstance(record, dict) or not isinstance(record.get("step"), int):
                continue
            for key, value in restored(record).items():
                if key not in _MONITOR_OWN and not key.startswith("term_grad/") \
                        and isinstance(value, (int, float)) and not isinstance(value, bool):
                    series.setdefault(key, []).append(float(value))
        if not series:
            notes.append(f"skipped the Monitor run {name}: no step record with a logged number")
            continue
        params = {k: _scalar(v) for k, v in _ASSIGN.findall(name)}
        config |= set(params)
        history[name] = {k: np.array(v, dtype=float) for k, v in series.items()}
        rows.append({"run": name, **params, **{k: _last(v) for k, v in history[name].items()}})
        metrics |= set(series)
    if not rows:
        raise SweepError(f"{root}: no readable Monitor run ({'; '.join(notes[:2])})")
    if not config:
        notes.append(f"{root}: no `key=value` in the run folders' names; name the parameters with --param and the "
                     "seed with --seed")
    return Runs(pd.DataFrame(rows), "run", sorted(config), sorted(metrics), history, notes)


def _mlflow(root: Path, runs: list[Path]) -> Runs:
    rows, history, metric_names, param_names, notes = [], {}, set(), set(), []
    for d in runs:
        run_id = d.name
        row = {"run_id": run_id, "experiment": _experiment(d.parent)}
        tag = d / "tags" / "mlflow.runName"
        if tag.is_file():
            row["name"] = tag.read_text().strip()
        for p in sorted((d / "params").rglob("*")):
            if p.is_file():
                key = str(p.relative_to(d / "params"))
                row[key] = _scalar(p.read_text().strip())
                param_names.add(key)
        history[run_id] = {}
        for m in sorted((d / "metrics").rglob("*")):
            if m.is_file():
                key = str(m.relative_to(d / "metrics"))
                history[run_id][key] = _mlflow_metric(m)
                row[key] = _last(history[run_id][key])
                metric_names.add(key)
        rows.append(row)
    if len({r["experiment"] for r in rows}) == 1:
        for r in rows:
            del r["experiment"]
    frame = pd.DataFrame(rows)
    notes.append(f"{root}: {len(rows)} MLflow runs")
    return Runs(frame, "run_id", sorted(param_names), sorted(metric_names), history, notes)


def _experiment(folder: Path) -> str:
    """The experiment's name from its meta.yaml (`name: ...`), else its id (the folder name)."""
    meta = folder / "meta.yaml"
    if meta.is_file():
        found = re.search(r"^name:\s*(.+)$", meta.read_text(), re.M)
        if found:
            return found.group(1).strip().strip("'\"")
    return folder.name


def _mlflow_metric(path: Path) -> np.ndarray:
    """`timestamp value step` per line, in step order (a missing step: the line order)."""
    points = []
    for i, line in enumerate(path.read_text(errors="replace").splitlines()):
        parts = line.split()
        if len(parts) in (2, 3):
            try:
                points.append((float(parts[2]) if len(parts) == 3 else i, i, float(parts[1])))
            except ValueError:
                continue
    return np.array([v for _, _, v in sorted(points)], dtype=float)


def _tensorboard(root: Path, dirs: list[Path]) -> Runs:
    try:
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    except ImportError:
        raise SweepError(f"{root}: reading TensorBoard runs needs tensorboard: pip install 'traindoctor[tensorboard]'") from None
    rows, history, metrics, config, notes = [], {}, set(), set(), []
    for d in dirs:
        name = str(d.relative_to(root)) if d != root else d.name
        acc = EventAccumulator(str(d), size_guidance={"scalars": 0})
        try:
            acc.Reload()
        except Exception as exc:  # the reader raises several types on corrupt records
            notes.append(f"skipped the unreadable TensorBoard run {name} ({type(exc).__name__})")
            continue
        params = _hparams(acc) or {k: _scalar(v) for k, v in _ASSIGN.findall(name)}
        config |= set(params)
        row = {"run": name, **params}
        history[name] = {}
        for tag in acc.Tags().get("scalars", []):
            if tag in params:
                continue
            history[name][tag] = np.array([e.value for e in acc.Scalars(tag)], dtype=float)
            row[tag] = _last(history[name][tag])
            metrics.add(tag)
        rows.append(row)
    if not rows:
        raise SweepError(f"{root}: no readable TensorBoard run ({'; '.join(notes[:2])})")
    if not config:
        notes.append(f"{root}: no hparams and no `key=value` in the run folders' names; "
                     "name the parameters with --param and the seed with --seed")
    return Runs(pd.DataFrame(rows), "run", sorted(config), sorted(metrics), history, notes)


def _hparams(acc) -> dict:
    """The run's hyperparameters as TensorBoard's hparams plugin stored them (SummaryWriter.add_hparams)."""
    try:
        from tensorboard.plugins.hparams import plugin_data_pb2
    except ImportError:  # pragma: no cover - shipped with tensorboard
        return {}
    try:
        content = acc.PluginTagToContent("hparams")
    except KeyError:  # no hparams were written
        return {}
    for raw in content.values():
        data = plugin_data_pb2.HParamsPluginData.FromString(raw)
        if data.HasField("session_start_info"):
            out = {}
            for k, v in data.session_start_info.hparams.items():
                kind = v.WhichOneof("kind")
                out[k] = getattr(v, kind) if kind else None
            return out
    return {}


def _scalar(text: str):
    """A parameter written as text (MLflow, a folder name): a number when it reads as one."""
    try:
        number = float(text)
    except ValueError:
        return {"True": True, "False": False, "None": None}.get(text, text)
    return int(number) if number.is_integer() and re.fullmatch(r"[-+]?\d+", text) else number
