"""Read a dataset as a stream of chunks, whatever form the user has it in.

A `Source` yields chunks: `{column: array}` whose arrays share their first axis (rows). Tables
(CSV, JSONL, parquet) give one 1-D array per column; arrays and tensors keep their shape (an image
batch stays (N, C, H, W)). Nothing is read whole: CSV and JSONL in chunks of rows, parquet by row
batches (pyarrow), `.npy` memory-mapped, a Dataset by index with a sample cap. A source that cannot
be read raises `DataError` naming the file and what to do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

Chunk = dict[str, np.ndarray]

CHUNK_ROWS = 65_536  # rows read at a time: a bound on memory, not a judgment
CHUNK_VALUES = 4_000_000  # ... and at most this many values, for wide rows (images)
# bytes buffered per parquet column while reading: pyarrow's default pre-buffering instead caches every
# row group's column chunks it has read (the whole file by the end), so memory would grow with the file
PARQUET_BUFFER = 1 << 20
TABLES = (".csv", ".tsv", ".jsonl", ".parquet", ".pq")
ARRAYS = (".npz", ".npy", ".pt", ".pth")


class DataError(ValueError):
    """A dataset that cannot be read; the message names it and says what to do."""


@dataclass
class Source:
    name: str
    chunks: Callable[[], Iterator[Chunk]]  # a fresh pass each call
    notes: list[str] = field(default_factory=list)


def open_source(spec: Any, name: str, sample_cap: int) -> Source:
    """`spec`: a path (file or directory), `module.py:function`, or an in-memory dataset (a dict of
    arrays or tensors, a pandas DataFrame, a torch Dataset or DataLoader)."""
    if isinstance(spec, (str, Path)):
        text = str(spec)
        if ".py:" in text or text.endswith(".py"):
            from .torch_sources import from_function

            return from_function(text, name, sample_cap)
        return _from_path(Path(text), name)
    return from_object(spec, name, sample_cap)


def from_object(obj: Any, name: str, sample_cap: int) -> Source:
    import pandas as pd

    if isinstance(obj, pd.DataFrame):
        return Source(name, lambda: _frame_chunks(obj))
    if isinstance(obj, dict) and obj:
        return Source(name, lambda: _dict_chunks(_as_arrays(obj, name)))
    from .torch_sources import from_torch

    return from_torch(obj, name, sample_cap)


def _from_path(path: Path, name: str) -> Source:
    if not path.exists():
        raise DataError(f"{path}: no such file or directory")
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in TABLES + ARRAYS)
        if not files:
            raise DataError(f"{path}: no data files in this directory; expected {', '.join(TABLES + ARRAYS)} files")
        kinds = {p.suffix.lower() for p in files}
        if len(kinds) > 1:
            raise DataError(f"{path}: holds files of several formats ({', '.join(sorted(kinds))}); "
                            "point at one format's files (a subdirectory) per split")
        return Source(name, lambda: (c for p in files for c in _file_chunks(p)),
                      notes=[f"{name}: {len(files)} files read as one split from {path}"] if len(files) > 1 else [])
    if path.suffix.lower() not in TABLES + ARRAYS:
        raise DataError(f"{path}: unknown format; expected one of {', '.join(TABLES + ARRAYS)}, a directory of "
                        "them, or module.py:function returning a Dataset, DataLoader or dict of arrays")
    return Source(name, lambda: _file_chunks(path))


def _file_chunks(path: Path) -> Iterator[Chunk]:
    suffix = path.suffix.lower()
    try:
        if suffix in (".csv", ".tsv"):
            import pandas as pd

            reader = pd.read_csv(path, chunksize=CHUNK_ROWS, sep="\t" if suffix == ".tsv" else ",", low_memory=False)
            for frame in reader:
                yield from _frame_chunks(frame)
        elif suffix == ".jsonl":
            import pandas as pd

            for frame in pd.read_json(path, lines=True, chunksize=CHUNK_ROWS):
                yield from _frame_chunks(frame)
        elif suffix in (".parquet", ".pq"):
            import pyarrow.parquet as pq

            reader = pq.ParquetFile(path, pre_buffer=False, buffer_size=PARQUET_BUFFER)
            for batch in reader.iter_batches(batch_size=CHUNK_ROWS):
                yield from _frame_chunks(batch.to_pandas())
        elif suffix == ".npy":
            yield from _dict_chunks({path.stem: np.load(path, mmap_mode="r", allow_pickle=False)})
        elif suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
            yield from _dict_chunks(_as_arrays(arrays, str(path)))
        else:
            from .torch_sources import load_tensors

            yield from _dict_chunks(_as_arrays(load_tensors(path), str(path)))
    except DataError:
        raise
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc}); check the path and its permissions") from None
    except Exception as exc:  # a parser's complaint about the file's content
        raise DataError(f"{path}: cannot be read as {suffix[1:]} ({type(exc).__name__}: {exc})") from None


def _frame_chunks(frame) -> Iterator[Chunk]:
    for start in range(0, len(frame), CHUNK_ROWS):
        part = frame.iloc[start:start + CHUNK_ROWS]
        yield {str(c): _column(part[c]) for c in part.columns}


def _column(series) -> np.ndarray:
    """A table column as numbers where it holds numbers (missing values as NaN), datetimes as seconds,
    and anything else as text."""
    import pandas as pd

    if pd.api.types.is_bool_dtype(series):
        return series.astype("float64").to_numpy()
    if pd.api.types.is_datetime64_any_dtype(series):
        values = series.dt.tz_localize(None) if getattr(series.dt, "tz", None) is not None else series
        out = values.to_numpy("datetime64[ns]").astype("int64").astype("float64") / 1e9
        out[series.isna().to_numpy()] = np.nan
        return out
    if pd.api.types.is_numeric_dtype(series):
        return series.to_numpy("float64", na_value=np.nan)
    return series.astype("object").where(series.notna(), None).to_numpy(dtype=object)


def _as_arrays(obj: dict, where: str) -> dict[str, np.ndarray]:
    """A dict of arrays or tensors with one row count; keys of another length are named and left out."""
    arrays = {str(k): _to_numpy(v) for k, v in obj.items()}
    arrays = {k: v for k, v in arrays.items() if v is not None and v.ndim >= 1}
    if not arrays:
        raise DataError(f"{where}: holds no arrays or tensors; expected a dict of arrays with one row per sample")
    lengths = [len(v) for v in arrays.values()]
    rows = max(set(lengths), key=lengths.count)
    other = sorted(k for k, v in arrays.items() if len(v) != rows)
    if other:
        raise DataError(f"{where}: {', '.join(other)} have another number of rows than the other keys ({rows}); "
                        "pass only per-sample arrays (one row per sample)")
    return arrays


def _to_numpy(value: Any) -> np.ndarray | None:
    if isinstance(value, np.ndarray):
        return value
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor
        value = value.detach().cpu()
        return (value.float() if value.is_floating_point() else value).numpy()
    if isinstance(value, (list, tuple)):
        try:
            return np.asarray(value)
        except ValueError:
            return None
    return None


def _dict_chunks(arrays: dict[str, np.ndarray]) -> Iterator[Chunk]:
    rows = len(next(iter(arrays.values())))
    width = sum(int(np.prod(v.shape[1:])) for v in arrays.values())
    step = max(1, min(CHUNK_ROWS, CHUNK_VALUES // max(width, 1)))
    for start in range(0, rows, step):
        yield {k: np.asarray(v[start:start + step]) for k, v in arrays.items()}
