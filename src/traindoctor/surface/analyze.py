"""From a loss function to a Report: grid one or two of its inputs (the figure's contour and
negative-gradient field), tabulate it at representative inputs, judge both.

A loss is a callable whose tensor arguments are named: the axes are the ones gridded (each a scalar at
a grid cell, broadcast by the loss against the others); every other argument keeps its value from
`inputs`. A dict of callables is a loss of several components, each analysed on its own."""

from __future__ import annotations

import inspect
import math
from typing import Any, Callable, Mapping, Sequence, TypedDict

import numpy as np
import torch

from ..diagnosis.probes import loss_table
from ..measure.streams import preserved_streams
from ..vocabulary.finding import Finding
from ..vocabulary.report import Report
from ..vocabulary.triage import triage
from ..judge import surface as rules
from .grid import Grid, GridError, compute

SOURCE = "surface"
DEFAULT_RANGE = (-3.0, 3.0)
CELLS = {1: 201, 2: 41}  # grid points per axis; odd, so the middle of a symmetric range is on the grid


class SurfaceError(ValueError):
    """The loss, its axes or its ranges cannot be used as given; the message says what to pass."""


class ComponentSection(TypedDict):
    name: str
    axes: list[str]
    ranges: list[list[float]]
    fixed: list[str]  # the arguments held at their `inputs` values
    vectorised: bool | None  # None: the grid could not be computed
    grid: dict[str, Any]  # coords (per axis), loss, grads (per axis): nested lists; dead and saddle cells
    table: list[rules.Row]


def analyze(loss_fn: Callable | Mapping[str, Callable], axes: Sequence[str] | None = None,
            ranges: Mapping[str, Sequence[float]] | None = None, *, inputs: Mapping[str, Any] | None = None,
            points: Mapping[str, Mapping[str, float]] | None = None, n: int | None = None,
            command: str | None = None) -> Report:
    """The landscape of `loss_fn` (a callable, or a dict name -> callable of its components) over `axes`
    (one or two argument names; default: the arguments without a value in `inputs`, else those given one
    number there), each over its range
    in `ranges` (default -3 to 3), on `n` points per axis (default 201 for one axis, 41 for two). `inputs`
    holds the other arguments' values (and, for an axis, its value as the model gives it: a row of the
    table); `points` adds named rows: {"margin": {"x": 1.0}}."""
    components = dict(loss_fn) if isinstance(loss_fn, Mapping) else {_label(loss_fn): loss_fn}
    if not components or not all(callable(f) for f in components.values()):
        raise SurfaceError("loss_fn must be a callable, or a dict of name -> callable")
    inputs = dict(inputs or {})
    sections, found, unchecked = [], [], []
    with preserved_streams():
        for name, fn in components.items():
            section, more, problem = _component(name, fn, axes, ranges or {}, inputs, points or {}, n)
            sections.append(section)
            found += more
            unchecked += [problem] if problem else []
    return Report(command=command or f"surface {', '.join(components)}", findings=triage(_combine(found)),
                  sections={"surface": {"components": sections}}, unchecked=unchecked)


def _component(name: str, fn: Callable, axes: Sequence[str] | None, ranges: Mapping, inputs: dict,
               points: Mapping, n: int | None) -> tuple[ComponentSection, list[Finding], str]:
    params = _parameters(name, fn)
    chosen = list(axes) if axes else _default_axes(params, inputs)
    _check_axes(name, params, chosen, inputs)
    bounds = [_range(a, ranges.get(a, DEFAULT_RANGE)) for a in chosen]
    fixed = {k: _tensor(v) for k, v in inputs.items() if k in params and k not in chosen}

    def call(values: dict[str, torch.Tensor]) -> torch.Tensor:
        out = fn(**{k: v.clone() for k, v in fixed.items()}, **values)  # clones: the loss may write into them
        if not isinstance(out, torch.Tensor):
            raise SurfaceError(f"{name} returned {type(out).__name__}, not a tensor")
        return out.mean() if out.dim() else out

    section = ComponentSection(name=name, axes=chosen, ranges=[list(b) for b in bounds], fixed=sorted(fixed),
                               vectorised=None, grid={}, table=[])
    try:
        grid = compute(call, chosen, bounds, n or CELLS[len(chosen)])
    except GridError as exc:
        return section, [], f"{name}: {exc}"
    rows = _table(name, call, grid, inputs, points)
    rules.flag(rows, grid.widths)
    section.update(vectorised=grid.vectorised, grid=_grid_section(grid), table=rows)
    return section, rules.grid_findings(grid, name, SOURCE) + rules.table_findings(rows, SOURCE), ""


def _parameters(name: str, fn: Callable) -> dict[str, bool]:
    """The loss's arguments, each with whether it must be given."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        raise SurfaceError(f"{name}: its arguments cannot be read; wrap it: lambda x, y: {name}(x, y)") from None
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return {p.name: p.default is inspect.Parameter.empty for p in sig.parameters.values() if p.kind in kinds}


def _default_axes(params: dict[str, bool], inputs: dict) -> list[str]:
    """The arguments without a value; else those whose given value is one number (their row "as given")."""
    free = [p for p, required in params.items() if required and p not in inputs]
    return free or [p for p in params if p in inputs and _tensor(inputs[p]).numel() == 1]


def _check_axes(name: str, params: dict[str, bool], axes: list[str], inputs: dict) -> None:
    unknown = [a for a in axes if a not in params]
    if unknown:
        raise SurfaceError(f"{name} has no argument {', '.join(unknown)}; its arguments: {', '.join(params)}")
    if not 1 <= len(axes) <= 2:
        raise SurfaceError(f"{name}: grid one or two of its arguments, not {len(axes)} ({', '.join(axes) or 'none'}); "
                           "pass axes=[...] and give the others' values in inputs={...}")
    missing = [p for p, required in params.items() if required and p not in axes and p not in inputs]
    if missing:
        raise SurfaceError(f"{name}: no value for {', '.join(missing)}; give it in inputs={{...}} or grid it in axes")


def _range(axis: str, bounds: Sequence[float]) -> tuple[float, float]:
    lo, hi = (float(b) for b in bounds)
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise SurfaceError(f"the range of {axis} must be two finite numbers, low < high, not {tuple(bounds)}")
    return lo, hi


def _tensor(v: Any) -> torch.Tensor:
    t = v.detach() if isinstance(v, torch.Tensor) else torch.as_tensor(v)
    return t.to(torch.get_default_dtype()) if t.is_floating_point() else t


def _table(name: str, call: Callable, grid: Grid, inputs: dict, points: Mapping) -> list[rules.Row]:
    """The rows: zero, small, converged (the grid's lowest cell), degenerate (the ranges' two ends), the
    axes as given in `inputs`, and the caller's named points."""
    axes = grid.axes
    named: list[tuple[str, dict[str, float]]] = [("zero", {a: 0.0 for a in axes}),
                                                  ("small", {a: loss_table.SMALL for a in axes})]
    finite = rules.finite_cells(grid)
    if finite.any():
        best = np.unravel_index(np.argmin(np.where(finite, grid.loss, np.inf)), grid.loss.shape)
        named.append(("converged", {a: float(c[i]) for a, c, i in zip(axes, grid.coords, best)}))
    named += [("degenerate", {a: lo for a, (lo, _) in zip(axes, grid.ranges)}),
              ("degenerate", {a: hi for a, (_, hi) in zip(axes, grid.ranges)})]
    given = {a: inputs[a] for a in axes if a in inputs and _tensor(inputs[a]).numel() == 1}
    if len(given) == len(axes):
        named.append(("as given", {a: float(_tensor(v)) for a, v in given.items()}))
    for label, at in points.items():
        named.append((str(label), {a: float(at[a]) if a in at else 0.0 for a in axes}))
    rows = []
    for label, at in named:
        values = {a: torch.tensor(v, dtype=torch.get_default_dtype()) for a, v in at.items()}
        loss, grad, error = loss_table.evaluate(call, values, axes)
        rows.append(rules.Row(component=name, input=label, at=", ".join(f"{a}={v:.4g}" for a, v in at.items()),
                                   values=at, loss=loss, grad=grad, **({"error": error} if error else {})))
    return rows


def _grid_section(grid: Grid) -> dict[str, Any]:
    return {"coords": [c.tolist() for c in grid.coords], "loss": grid.loss.tolist(),
            "grads": {a: g.tolist() for a, g in zip(grid.axes, grid.grads)},
            "dead": np.argwhere(rules.dead_cells(grid)).tolist(),
            "saddles": [list(ij) for ij, _ in rules.saddles(grid)] if len(grid.axes) == 2 else []}


def _combine(found: list[Finding]) -> list[Finding]:
    """One finding per code: the grid's and the table's, and every component's, in one."""
    by_code: dict[str, list[Finding]] = {}
    for f in found:
        by_code.setdefault(f.code, []).append(f)
    out = []
    for same in by_code.values():
        first = min(same, key=lambda f: ("error", "warning", "info").index(f.severity))
        if len(same) > 1:
            first.observation = " · ".join(f.observation for f in same)
            first.evidence = {"parts": [f.evidence for f in same]}
            first.location = {"components": list(dict.fromkeys(
                c for f in same for c in f.location.get("components", [f.location.get("component")]) if c))}
        out.append(first)
    return out


def _label(fn: Callable) -> str:
    name = getattr(fn, "__name__", None) or type(fn).__name__
    return "loss" if name == "<lambda>" else name
