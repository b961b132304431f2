"""Does sample i's output depend on sample j? Perturb one sample on an eval-mode copy and see.

Samples are taken along the batch axis decided once for the batch (probes/axis.py), so a
sequence-first model is probed across its batch, not across time."""

from __future__ import annotations

import time
from typing import Any

import torch
from torch import nn

from ..findings import Finding, finding
from .axis import batch_dim, changes, perturbed
from .copies import guarded
from .sandbox import isolated
from .setup import NotApplicable, Setup, SetupError
from .tree import Call, tree_map

RELATIVE_TOL = 1e-5


def independence(setup: Setup, source: str = "checkup") -> tuple[list[Finding], dict[str, Any]]:
    B = setup.need_samples(2)
    name, x = setup.primary
    y = perturbed(x, batch_dim(x, B, setup.axis.axis), torch.Generator().manual_seed(0))
    if y is None:
        raise NotApplicable(f"input `{name}` cannot be perturbed (constant or non-finite)")
    model = setup.copy_model(train=False)
    with torch.no_grad():
        base, again = setup.per_sample(setup.forward(model, seed=0)), setup.per_sample(setup.forward(model, seed=0))
        moved = setup.per_sample(setup.forward(model, tree_map(setup.inputs, lambda t, _: y if t is x else t), seed=0))
    if base is None or moved is None or moved.shape != base.shape:
        raise NotApplicable(setup.no_output_samples)
    if not torch.equal(base, again):
        raise NotApplicable("two identical eval passes with the same random draws gave different outputs "
                            "(the forward keeps state between calls, or a kernel is nondeterministic)")
    change = changes(base, moved)
    others = change[1:]
    record = {"input": name, "batch": B, "max_relative_change_other_samples": float(others.max()),
              "relative_change_perturbed_sample": float(change[0])}
    affected = int((others > RELATIVE_TOL).sum())
    if not affected:
        record["note"] = f"outputs of the other {B - 1} samples unchanged"
        return [], record
    return [finding(
        "batch-mixing",
        f"perturbing sample 0 of input `{name}` (batch of {B} along dim {setup.axis.axis}, model copy in eval mode) "
        f"changed the outputs of {affected} of the other {B - 1} samples (max relative change {float(others.max()):.2g})",
        source, evidence=record, location={"module": type(setup.model).__name__},
    )], record


def probe(module: nn.Module, args: tuple, kwargs: dict, source: str = "run") -> tuple[Finding | None, dict[str, Any]]:
    """Batch independence of one captured call, for `run` (which may capture args and kwargs together)."""
    started = time.monotonic()
    inputs = Call((tuple(args), dict(kwargs))) if args and kwargs else (dict(kwargs) if kwargs else tuple(args))
    status, found, record = "ran", [], {}
    try:
        with isolated():
            setup = Setup.build(module, (inputs, None))
            if setup.blocked:
                status, record = "failed", {"note": setup.blocked}
            else:
                with guarded(module):
                    found, record = independence(setup, source)
    except (NotApplicable, SetupError) as exc:
        status, record = "skipped", {"note": str(exc)}
    except Exception as exc:
        status, record = "failed", {"note": f"probe failed: {type(exc).__name__}: {str(exc)[:300]}"}
    record = {"name": "batch-mixing", "status": status, **record, "seconds": round(time.monotonic() - started, 3)}
    return (found[0] if found else None), record
