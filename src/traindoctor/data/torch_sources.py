"""Datasets that live in Python: a `torch.save`d tensor dict, `module.py:function`, a torch Dataset or
DataLoader, a Hugging Face `datasets.Dataset` (map-style: `len` and indexing).

A map-style dataset is read by index, at most `sample_cap` samples spread evenly over it, so the same
dataset gives the same report; a DataLoader is read through its dataset (its shuffling and batching do
not change the data). Only an iterable dataset is iterated, up to the cap. Augmentations draw from the
random streams: they are seeded for the pass and the user's streams restored after it (do no harm).
"""

from __future__ import annotations

import random
import sys
import traceback
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from ..measure.streams import preserved_streams
from .sources import Chunk, DataError, Source, from_object

_BATCH = 1024  # samples stacked into one chunk


def load_tensors(path: Path) -> Any:
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise DataError(f"{path}: cannot be loaded with torch.load(weights_only=True) ({type(exc).__name__}: "
                        f"{str(exc).splitlines()[0] if str(exc) else ''}); save a dict of tensors "
                        "(torch.save({'x': x, 'y': y}, path)) rather than pickled objects") from None


def from_function(spec: str, name: str, sample_cap: int) -> Source:
    """`path/to/file.py:function`: the object the function returns, read as any in-memory dataset."""
    return from_object(call_function(spec, "a Dataset, DataLoader or dict of arrays"), name, sample_cap)


def call_function(spec: str, returns: str) -> Any:
    """Run `path/to/file.py:function()` (its folder importable, the random streams restored) and return what
    it returns; its failures are a DataError with the user's traceback. `returns`: what it should return."""
    import runpy

    path, _, func = spec.partition(":")
    file = Path(path)
    if not func:
        raise DataError(f"{spec}: name the function that returns {returns}, as {path}:function")
    if not file.is_file():
        raise DataError(f"{path}: no such file")
    saved = sys.path[:]
    sys.path.insert(0, str(file.resolve().parent))
    try:
        with preserved_streams():
            try:
                namespace = runpy.run_path(str(file), run_name="__traindoctor_data__")
            except Exception as exc:
                raise DataError(f"importing {path} failed:\n{_user_trace(exc, file)}") from None
            if not callable(namespace.get(func)):
                raise DataError(f"{path} defines no function {func}(); write one that returns {returns}")
            try:
                obj = namespace[func]()
            except Exception as exc:
                raise DataError(f"{spec}() raised:\n{_user_trace(exc, file)}") from None
    finally:
        sys.path[:] = saved
    return obj


def _user_trace(exc: BaseException, file: Path) -> str:
    """The traceback from the user's file on (runpy's frames left out)."""
    frames = traceback.extract_tb(exc.__traceback__)
    mine = [f for f in frames if Path(f.filename).resolve() == file.resolve()]
    start = frames.index(mine[0]) if mine else 0
    lines = traceback.format_list(frames[start:]) + traceback.format_exception_only(type(exc), exc)
    return "".join(lines).rstrip()


def from_torch(obj: Any, name: str, sample_cap: int) -> Source:
    dataset = getattr(obj, "dataset", None) if _is_loader(obj) else obj
    if dataset is not None and hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__") \
            and not _is_iterable_dataset(dataset):
        notes: list[str] = []
        return Source(name, lambda: _indexed(dataset, name, sample_cap, notes), notes)
    if hasattr(obj, "__iter__"):
        notes = []
        return Source(name, lambda: _iterated(obj, name, sample_cap, notes), notes)
    raise DataError(f"{name}: a {type(obj).__name__} is not a dataset; pass a file, a dict of arrays or tensors, a "
                    "DataFrame, a Dataset or a DataLoader")


def _is_loader(obj: Any) -> bool:
    return type(obj).__name__ == "DataLoader" or (hasattr(obj, "dataset") and hasattr(obj, "batch_size"))


def _is_iterable_dataset(obj: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.utils.data.IterableDataset)


def _seeded():
    """Augmentations drawn the same way on every pass; the user's streams come back after it."""
    guard = preserved_streams()
    guard.__enter__()
    random.seed(0)
    np.random.seed(0)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(0)
    return guard


def _indexed(dataset: Any, name: str, sample_cap: int, notes: list[str]) -> Iterator[Chunk]:
    n = len(dataset)
    take = np.unique(np.linspace(0, n - 1, min(n, sample_cap)).astype(np.int64)) if n else np.array([], np.int64)
    if len(take) < n:
        notes.append(f"{name}: {len(take)} of {n} samples read, evenly spaced (the sample cap)")
    guard = _seeded()
    try:
        items = (dataset[int(i)] for i in _progress(take, name))
        yield from _stacked(items, name, notes)
    finally:
        guard.__exit__(None, None, None)


def _iterated(obj: Any, name: str, sample_cap: int, notes: list[str]) -> Iterator[Chunk]:
    guard = _seeded()
    try:
        loader = _is_loader(obj)
        seen = 0

        def samples():
            nonlocal seen
            for item in obj:
                for sample in (_unbatch(item) if loader else [item]):
                    if seen >= sample_cap:
                        notes.append(f"{name}: stopped at the sample cap ({sample_cap} samples)")
                        return
                    seen += 1
                    yield sample

        yield from _stacked(_progress(samples(), name), name, notes)
    finally:
        guard.__exit__(None, None, None)


def _unbatch(batch: Any) -> list:
    fields = _fields(batch)
    n = len(next(iter(fields.values())))
    return [{k: v[i] for k, v in fields.items()} for i in range(n)]


def _fields(item: Any) -> dict[str, Any]:
    """A sample's fields by name: a dict's keys; a pair is (x, y); a longer tuple item0, item1, ..."""
    if isinstance(item, dict):
        return {str(k): v for k, v in item.items()}
    if isinstance(item, (tuple, list)):
        return dict(zip(("x", "y"), item)) if len(item) == 2 else {f"item{i}": v for i, v in enumerate(item)}
    return {"x": item}


def _value(v: Any) -> Any:
    if hasattr(v, "detach") and hasattr(v, "cpu"):
        v = v.detach().cpu()
        return (v.float() if v.is_floating_point() else v).numpy()
    return v


def _stacked(items, name: str, notes: list[str]) -> Iterator[Chunk]:
    batch: list[dict[str, Any]] = []
    for item in items:
        batch.append({k: _value(v) for k, v in _fields(item).items()})
        if len(batch) == _BATCH:
            yield _stack(batch, name, notes)
            batch = []
    if batch:
        yield _stack(batch, name, notes)


def _stack(batch: list[dict[str, Any]], name: str, notes: list[str]) -> Chunk:
    out: Chunk = {}
    for key in batch[0]:
        values = [b.get(key) for b in batch]
        if all(isinstance(v, str) or v is None for v in values):
            out[key] = np.array(values, dtype=object)
            continue
        try:
            out[key] = np.stack([np.asarray(v, dtype=float if v is None else None) for v in values])
        except (ValueError, TypeError):
            note = f"{name}: `{key}` varies in shape from sample to sample; left out"
            if note not in notes:
                notes.append(note)
    return out


def _progress(iterable, name: str):
    from tqdm import tqdm

    # on stderr, and only on a terminal: a report on stdout stays whole, logs stay clean
    return tqdm(iterable, desc=f"reading {name}", unit="sample", file=sys.stderr, disable=None, leave=False)
