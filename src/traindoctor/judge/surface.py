"""What a loss function's landscape shows (surface/ measures it; checkup's loss-table probe measures the
table on the model's real outputs): the findings of the grid — non-finite regions, dead zones, imbalanced
axes, saddles — and of the table of representative inputs, whose rows are flagged here."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TypedDict

import numpy as np

from ..vocabulary.finding import Finding, finding
from .thresholds import (SURFACE_ABOVE_MIN, SURFACE_CURVATURE, SURFACE_DEAD_SHARE, SURFACE_FLAT, SURFACE_IMBALANCE,
                         SURFACE_STATIONARY)


@dataclass
class Grid:
    axes: list[str]
    ranges: list[tuple[float, float]]
    coords: list[np.ndarray]  # each axis's values
    loss: np.ndarray  # (n,) or (n, n), indexed [i_axis0, i_axis1]
    grads: list[np.ndarray]  # d loss / d axis, the loss's shape each
    vectorised: bool

    @property
    def widths(self) -> dict[str, float]:
        return {a: hi - lo for a, (lo, hi) in zip(self.axes, self.ranges)}


class Row(TypedDict, total=False):
    component: str
    input: str  # zero | small | converged | degenerate | as given | a name the caller chose
    at: str  # the input's values, in words
    values: dict[str, float]  # a scalar input's value (surface's axes)
    loss: float | None  # None: the loss raised at this input (`error` says what)
    grad: dict[str, float | None]  # per input: the derivative (a scalar input) or the L2 norm (a tensor)
    flags: list[str]  # dead | nonfinite
    error: str


def flag(rows: list[Row], widths: dict[str, float]) -> None:
    """Flag each row: `nonfinite` when its loss or a gradient is NaN/inf; `dead` when its loss lies above the
    lowest loss among the rows by more than SURFACE_ABOVE_MIN of their range, yet crossing each input's
    `width` at the row's gradient would change it by less than SURFACE_FLAT of that range."""
    finite = [r["loss"] for r in rows if _finite_row(r)]
    low, spread = (min(finite), max(finite) - min(finite)) if finite else (0.0, 0.0)
    for r in rows:
        r["flags"] = []
        if r["loss"] is None:
            continue
        if not _finite_row(r):
            r["flags"].append("nonfinite")
        elif spread > 0 and r["loss"] - low > SURFACE_ABOVE_MIN * spread and \
                sum(abs(g) * widths[k] for k, g in r["grad"].items()) <= SURFACE_FLAT * spread:
            r["flags"].append("dead")


def _finite_row(r: Row) -> bool:
    return r["loss"] is not None and math.isfinite(r["loss"]) and all(math.isfinite(g) for g in r["grad"].values())


def table_findings(rows: list[Row], source: str, operating: str = "as given") -> list[Finding]:
    """The table's findings: one loss-nonfinite-region for the non-finite rows, one loss-dead-zone for the
    dead ones (an error when the `operating` point, where training starts, is among them)."""
    found = []
    bad = [r for r in rows if "nonfinite" in r["flags"]]
    if bad:
        found.append(finding("loss-nonfinite-region", "the loss is non-finite at " + "; ".join(
            f"{_name(r)} ({r['at']}): loss {_g(r['loss'])}, gradient {_grad(r)}" for r in bad), source,
            evidence={"rows": bad}, location=_where(bad)))
    dead = [r for r in rows if "dead" in r["flags"]]
    if dead:
        low = min((r for r in rows if _finite_row(r)), key=lambda r: r["loss"])
        stuck = any(r["input"] == operating for r in dead)
        found.append(finding("loss-dead-zone", "zero gradient where the loss is not at its lowest: " + "; ".join(
            f"{_name(r)} ({r['at']}): loss {_g(r['loss'])}, gradient {_grad(r)}" for r in dead)
            + f" — against {_g(low['loss'])} at {_name(low)}" + (" (training starts there)" if stuck else ""),
            source, evidence={"rows": dead, "lowest": low}, severity="error" if stuck else None, location=_where(dead)))
    return found


def _name(r: Row) -> str:
    return (f"{r['component']}, " if r.get("component") else "") + r["input"]


def _where(rows: list[Row]) -> dict:
    components = list(dict.fromkeys(r["component"] for r in rows if r.get("component")))
    return {"components": components} if components else {}


def _grad(r: Row) -> str:
    return ", ".join(f"{k} {_g(g)}" for k, g in r["grad"].items()) or "none"


def _g(v: float | None) -> str:
    return "raised" if v is None else f"{v + 0.0:.4g}"  # + 0.0: -0 reads as 0


def grid_findings(grid: Grid, component: str, source: str) -> list[Finding]:
    found = [_nonfinite(grid, component, source), _dead(grid, component, source)]
    if len(grid.axes) == 2:
        found += [_imbalanced(grid, component, source), _saddle(grid, component, source)]
    return [f for f in found if f]


def finite_cells(grid: Grid) -> np.ndarray:
    ok = np.isfinite(grid.loss)
    for g in grid.grads:
        ok &= np.isfinite(g)
    return ok


def dead_cells(grid: Grid) -> np.ndarray:
    """Cells above the lowest loss by SURFACE_ABOVE_MIN of the loss's range where crossing every axis's
    range at the cell's slope would change the loss by less than SURFACE_FLAT of that range."""
    ok = finite_cells(grid)
    if not ok.any():
        return np.zeros_like(ok)
    low, spread = grid.loss[ok].min(), np.ptp(grid.loss[ok])
    if spread <= 0:
        return np.zeros_like(ok)
    slope = sum(np.abs(g) * w for g, w in zip(grid.grads, grid.widths.values()))
    with np.errstate(invalid="ignore"):
        return ok & (grid.loss - low > SURFACE_ABOVE_MIN * spread) & (slope <= SURFACE_FLAT * spread)


def _nonfinite(grid: Grid, component: str, source: str) -> Finding | None:
    bad = ~finite_cells(grid)
    if not bad.any():
        return None
    where = _region(grid, bad)
    kinds = sorted({"loss" if not np.isfinite(grid.loss[i]) else "gradient" for i in zip(*np.nonzero(bad))})
    return finding("loss-nonfinite-region", f"{component}: the {' and '.join(kinds)} {'are' if len(kinds) > 1 else 'is'} "
                   f"NaN or infinite on {bad.sum()} of {bad.size} grid cells ({_share(bad)}), {where}", source,
                   evidence={"component": component, "cells": int(bad.sum()), "of": int(bad.size), "region": where,
                             "what": kinds}, location={"component": component})


def _dead(grid: Grid, component: str, source: str) -> Finding | None:
    dead = dead_cells(grid)
    if dead.mean() < SURFACE_DEAD_SHARE:
        return None
    ok = finite_cells(grid)
    levels = grid.loss[dead]
    return finding("loss-dead-zone", f"{component}: zero gradient on {_share(dead)} of the grid ({_region(grid, dead)}) "
                   f"where the loss is {_span(levels)}, above its lowest {grid.loss[ok].min():.4g} "
                   f"at {_at(grid, np.unravel_index(np.argmin(np.where(ok, grid.loss, np.inf)), grid.loss.shape))}",
                   source, evidence={"component": component, "share": float(dead.mean()), "region": _region(grid, dead),
                                     "loss": [float(levels.min()), float(levels.max())],
                                     "lowest": float(grid.loss[ok].min())}, location={"component": component})


def _imbalanced(grid: Grid, component: str, source: str) -> Finding | None:
    ok = finite_cells(grid)
    if not ok.any():
        return None
    typical = [float(np.median(np.abs(g[ok]))) for g in grid.grads]
    if min(typical) <= 0:  # an axis flat over most of the grid: a dead zone or an unused input, not a balance
        return None
    ratio = max(typical) / min(typical)
    if ratio < SURFACE_IMBALANCE:
        return None
    big, small = (0, 1) if typical[0] > typical[1] else (1, 0)
    a = grid.axes
    return finding("loss-axes-imbalanced", f"{component}: the median |∂loss/∂{a[big]}| is {typical[big]:.3g}, "
                   f"|∂loss/∂{a[small]}| {typical[small]:.3g}: {ratio:.3g}x over the grid ({_ranges(grid)})", source,
                   evidence={"component": component, "median_abs_grad": dict(zip(a, typical)), "ratio": ratio},
                   location={"component": component})


def _saddle(grid: Grid, component: str, source: str) -> Finding | None:
    found = saddles(grid)
    if not found:
        return None
    (i, j), eig = found[0]
    origin = all(lo < 0 < hi for lo, hi in grid.ranges) and _near_origin(grid, i, j)
    return finding("loss-saddle", f"{component}: a saddle at {_at(grid, (i, j))}: the gradient vanishes there, the "
                   f"curvature across the ranges is {eig[0]:+.3g} along one direction and {eig[1]:+.3g} along another"
                   + (" — at the origin, where inputs initialised near zero start" if origin else ""), source,
                   evidence={"component": component, "at": dict(zip(grid.axes, (grid.coords[0][i], grid.coords[1][j]))),
                             "curvatures": eig, "saddles": len(found)}, location={"component": component})


def saddles(grid: Grid) -> list[tuple[tuple[int, int], list[float]]]:
    """Interior cells where the gradient norm is a local minimum under SURFACE_STATIONARY of its median and
    the Hessian (central differences of the gradient, scaled by the ranges) has eigenvalues of opposite signs
    beyond SURFACE_CURVATURE of the loss's range."""
    ok = finite_cells(grid)  # a cell next to a non-finite one is skipped
    gx, gy = grid.grads
    norm = np.hypot(gx, gy)
    typical = np.median(norm[ok]) if ok.any() else 0.0
    spread = np.ptp(grid.loss[ok]) if ok.any() else 0.0
    if typical <= 0 or spread <= 0:
        return []
    (wx, wy), (dx, dy) = grid.widths.values(), (grid.coords[0][1] - grid.coords[0][0], grid.coords[1][1] - grid.coords[1][0])
    out = []
    n0, n1 = grid.loss.shape
    for i in range(1, n0 - 1):
        for j in range(1, n1 - 1):
            block = norm[i - 1:i + 2, j - 1:j + 2]
            if not ok[i - 1:i + 2, j - 1:j + 2].all() or norm[i, j] > SURFACE_STATIONARY * typical or norm[i, j] > block.min():
                continue
            hxx = (gx[i + 1, j] - gx[i - 1, j]) / (2 * dx) * wx * wx
            hyy = (gy[i, j + 1] - gy[i, j - 1]) / (2 * dy) * wy * wy
            hxy = ((gx[i, j + 1] - gx[i, j - 1]) / (2 * dy) + (gy[i + 1, j] - gy[i - 1, j]) / (2 * dx)) / 2 * wx * wy
            eig = np.linalg.eigvalsh(np.array([[hxx, hxy], [hxy, hyy]]))
            if eig[0] < -SURFACE_CURVATURE * spread and eig[1] > SURFACE_CURVATURE * spread:
                out.append(((i, j), [float(eig[1]), float(eig[0])]))
    return sorted(out, key=lambda s: norm[s[0]])


def _near_origin(grid: Grid, i: int, j: int) -> bool:
    return all(abs(c[k]) <= abs(c[1] - c[0]) for c, k in zip(grid.coords, (i, j)))


def _region(grid: Grid, mask: np.ndarray) -> str:
    """The flagged cells' extent along each axis."""
    parts = []
    for k, (axis, c) in enumerate(zip(grid.axes, grid.coords)):
        hit = np.nonzero(mask.any(axis=tuple(d for d in range(mask.ndim) if d != k)))[0]
        parts.append(f"{axis} in [{c[hit.min()]:.3g}, {c[hit.max()]:.3g}]")
    return ", ".join(parts)


def _ranges(grid: Grid) -> str:
    return ", ".join(f"{a} in [{lo:g}, {hi:g}]" for a, (lo, hi) in zip(grid.axes, grid.ranges))


def _at(grid: Grid, index: tuple) -> str:
    return ", ".join(f"{a}={c[i]:.3g}" for a, c, i in zip(grid.axes, grid.coords, index))


def _span(levels: np.ndarray) -> str:
    lo, hi = float(levels.min()), float(levels.max())
    return f"{lo:.4g}" if np.isclose(lo, hi) else f"{lo:.4g} to {hi:.4g}"


def _share(mask: np.ndarray) -> str:
    return f"{mask.mean():.0%}" if mask.mean() >= 0.01 else "under 1%"
