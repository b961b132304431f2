"""`traindoctor data --model module.py:function`: the leakage tracer (leakage.py) run on the user's model or
pipeline, with a batch of the training split unless the function gives its own.

The function returns a callable (an nn.Module in the mode it is used in, or a pipeline function), or a pair
`(callable, batch)`. Without a batch, the first TRACE_ROWS rows of the training split's row sample are the
batch: its numeric feature dimensions, in the report's order, as one float32 tensor (rows, features) —
what a model of tabular features takes. A model that takes something else gets its batch from the pair."""

from __future__ import annotations

import numpy as np

from .audit import Audit
from .leakage import trace_leakage
from .sources import DataError
from .torch_sources import call_function

TRACE_ROWS = 32  # a batch: enough samples that one reaching the others shows, small enough for any model


def trace_model(spec: str, a: Audit) -> tuple[list, dict]:
    """The tracer's findings and its record for the report's data section (`data.leakage`)."""
    obj = call_function(spec, "a model or pipeline (an nn.Module or a callable), or (model, batch)")
    if isinstance(obj, tuple) and len(obj) == 2 and callable(obj[0]):
        fn, batch, given = obj[0], obj[1], "returned by the function"
    elif callable(obj):
        fn, batch = obj, _batch(a)
        given = f"the first {len(batch)} sampled rows of {a.train.name}, {batch.shape[1]} feature(s)"
    else:
        raise DataError(f"{spec}() returned {type(obj).__name__}; return a model or pipeline (an nn.Module or a "
                        "callable), or a pair (model, batch)")
    try:
        report = trace_leakage(fn, batch)
    except Exception as exc:
        raise DataError(f"tracing {spec} on a batch {given} failed ({type(exc).__name__}: {exc}); return "
                        "(model, batch) from the function to give the batch it takes") from None
    return report.findings, {"model": spec, "batch": given, **report.sections.get("leakage", {})}


def _batch(a: Audit):
    import torch

    dims = [(c, i) for c, i, _ in a.features() if not a.train.layouts[c].pooled]
    if not dims:
        raise DataError(f"{a.train.name} has no numeric features to make a batch of; return (model, batch) from "
                        "the --model function")
    rows = np.column_stack([a.train.sampled(c, i)[:TRACE_ROWS] for c, i in dims]).astype(np.float32)
    return torch.from_numpy(np.nan_to_num(rows))
