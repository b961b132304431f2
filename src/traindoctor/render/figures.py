"""Figures drawn from a Report's own data (matplotlib, no display needed).

The HTML report inlines them as SVG; `curves --plot` and `checkup --plots` save them as PNG.
Nothing here measures: every point comes from a report section (curves keep a min/max envelope
of each series, `run` its step records, the monitor a thinned history, checkup its probe records).
"""

from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from ..vocabulary.report import Report, write_atomic

_SEVERITY_COLOR = {"error": "#d62728", "warning": "#ff7f0e", "info": "#1f77b4"}
_MAX_MODULES = 40  # rows of the heatmap; more would be unreadable on a laptop screen


@dataclass
class Plot:
    name: str      # file stem when saved: "loss", "lr-schedule", ...
    caption: str
    figure: Figure


def figures(report: Report) -> list[Plot]:
    s = report.sections
    out: list[Plot] = []
    if "curves" in s and "plot" in s["curves"]:
        out += _curves(s["curves"], report)
    if "run" in s:
        records = [r for r in s["run"]["steps_record"] if r.get("optimizer", 0) == 0]
        out += _steps([{**r, "step": r["optimizer_step"]} for r in records], report, "optimizer step")
    if "monitor" in s and s["monitor"].get("history"):
        history = s["monitor"]["history"]
        out += _steps(history["steps"], report, "step", history["modules"])
    if "checkup" in s:
        out += _checkup(s["checkup"])
    if "sweeps" in s:
        out += _sweeps(s["sweeps"], report)
    if "surface" in s:
        out += [p for c in s["surface"]["components"] if c["grid"] for p in [_surface(c)]]
    if "data" in s:
        out += _data(s["data"], report)
    return out


def svg(plot: Plot) -> str:
    """The figure as an inline <svg> element that scales to its container."""
    buf = io.StringIO()
    plot.figure.savefig(buf, format="svg", metadata={"Date": None})
    text = buf.getvalue()
    text = text[text.index("<svg"):]
    # fixed pt sizes -> fluid width; the viewBox keeps the aspect ratio
    return re.sub(r'<svg([^>]*?) width="[^"]*" height="[^"]*"', r'<svg\1 width="100%" role="img"', text, count=1)


def save_png(plots: list[Plot], out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for p in plots:
        buf = io.BytesIO()
        p.figure.savefig(buf, format="png", dpi=110)
        path = out_dir / f"{p.name}.png"
        write_atomic(path, buf.getvalue())
        paths.append(path)
    return paths


# ── curves ───────────────────────────────────────────────────────────────────

def _curves(section: dict, report: Report) -> list[Plot]:
    data, roles = section["plot"], section["roles"]
    out = []
    losses = roles["train"] + roles["val"]
    if losses:
        fig = _figure(3.4)
        ax = fig.add_subplot()
        for name in losses:
            ax.plot(data[name]["steps"], data[name]["values"], lw=1, label=_literal(name))
        _log_if_positive(ax, [data[n]["values"] for n in losses])
        _mark_events(ax, report, losses)
        _finish(ax, "loss", legend=True)
        title = "Training vs validation loss" if roles["train"] and roles["val"] else "Loss"
        out.append(Plot("loss", f"{title}, with the detected events shaded.", fig))
    if roles["metrics"]:
        fig = _figure(2.8)
        ax = fig.add_subplot()
        for name in roles["metrics"]:
            ax.plot(data[name]["steps"], data[name]["values"], lw=1, label=_literal(name))
        _mark_events(ax, report, roles["metrics"])
        _finish(ax, "metric", legend=True)
        out.append(Plot("metrics", "Logged metrics.", fig))
    if roles["lr"]:
        out.append(_lr({n: (data[n]["steps"], data[n]["values"]) for n in roles["lr"]}, "step"))
    if roles["modules"]:
        columns = {}
        for name in roles["modules"]:
            for step, v in zip(data[name]["steps"], data[name]["values"]):
                columns.setdefault(step, {})[section["series"][name]["member"]] = v
        heat = _heatmap([{"step": k, "grad_norm_by_module": v} for k, v in sorted(columns.items())], "step")
        out += [heat] if heat else []
    return out


# ── run / monitor step records ───────────────────────────────────────────────

def _steps(records: list[dict], report: Report, xlabel: str, module_records: list[dict] | None = None) -> list[Plot]:
    if not records:
        return []
    out = []
    steps = [r["step"] for r in records]
    fig = _figure(4.6)
    top, bottom = fig.subplots(2, 1, sharex=True)
    for ax, key, label, color in ((top, "loss", "loss", "#1f77b4"), (bottom, "grad_norm", "gradient norm", "#9467bd")):
        points = [(r["step"], _num(r[key])) for r in records if r.get(key) is not None]
        if points:
            x, y = zip(*points)
            ax.plot(x, y, lw=1, color=color)
            _log_if_positive(ax, [y])
            bad = [s for s, v in points if not math.isfinite(v)]
            if bad:  # a line cannot show NaN/Inf: mark those steps along the top edge
                ax.plot(bad, [0.97] * len(bad), "x", color="#d62728", ms=4, transform=ax.get_xaxis_transform(),
                        label="non-finite")
                ax.legend(loc="center right", fontsize=8)
        _mark_steps(ax, report)
        _finish(ax, label, xlabel=xlabel if ax is bottom else None)
    top.set_xlim(min(steps), max(max(steps), min(steps) + 1))
    out.append(Plot("loss", "Loss and total gradient norm per recorded step; findings at a step are marked.", fig))
    if any(r.get("lr") for r in records):
        groups = max(len(r.get("lr") or []) for r in records)
        series = {f"group {g}": ([r["step"] for r in records if len(r.get("lr") or []) > g],
                                 [r["lr"][g] for r in records if len(r.get("lr") or []) > g]) for g in range(groups)}
        out.append(_lr(series, xlabel))
    heat = _heatmap(records if module_records is None else module_records, xlabel)
    out += [heat] if heat else []
    return out


def _lr(series: dict[str, tuple[list, list]], xlabel: str) -> Plot:
    fig = _figure(2.6)
    ax = fig.add_subplot()
    for name, (x, y) in series.items():
        ax.plot(x, y, lw=1.2, label=_literal(name), drawstyle="steps-post")
    _log_if_positive(ax, [y for _, y in series.values()], spread=100)
    _finish(ax, "learning rate", xlabel=xlabel, legend=len(series) > 1)
    return Plot("lr-schedule", "Learning-rate schedule" + (" per parameter group." if len(series) > 1 else "."), fig)


def _heatmap(records: list[dict], xlabel: str) -> Plot | None:
    sampled = [r for r in records if r.get("grad_norm_by_module")]
    if len(sampled) < 2:
        return None
    modules = list(dict.fromkeys(m for r in sampled for m in r["grad_norm_by_module"]))
    shown = modules[:_MAX_MODULES]
    grid = np.array([[_num(r["grad_norm_by_module"].get(m)) for r in sampled] for m in shown], dtype=float)
    positive = grid[np.isfinite(grid) & (grid > 0)]
    if positive.size == 0:
        return None
    grid = np.where(np.isfinite(grid) & (grid > 0), grid, np.nan)
    fig = _figure(max(2.4, 0.5 + 0.22 * len(shown)))
    ax = fig.add_subplot()
    steps = np.array([r["step"] for r in sampled], dtype=float)
    # cell edges halfway between sampled steps: the spacing need not be even
    mid = (steps[1:] + steps[:-1]) / 2
    x = np.concatenate([[steps[0] - (mid[0] - steps[0])], mid, [steps[-1] + (steps[-1] - mid[-1])]])
    image = ax.pcolormesh(x, np.arange(len(shown) + 1) - 0.5, np.ma.masked_invalid(grid), cmap="viridis",
                          norm=LogNorm(vmin=positive.min(), vmax=positive.max()), rasterized=True)
    ax.set_ylim(len(shown) - 0.5, -0.5)
    ax.set_yticks(range(len(shown)), [_literal(m) for m in shown], fontsize=7)
    ax.set_ylabel("module")
    ax.set_xlabel(xlabel)
    fig.colorbar(image, ax=ax, label="gradient L2 norm", pad=0.01)
    more = f" (the first {len(shown)} of {len(modules)} modules)" if len(modules) > len(shown) else ""
    caption = (f"Gradient norm per module over {len(sampled)} sampled steps{more}, log colour scale: a row that goes "
               "dark is a layer that stopped learning; a bright band is where gradients exploded; blank is non-finite.")
    return Plot("grad-norm-by-module", caption, fig)


# ── checkup ──────────────────────────────────────────────────────────────────

def _checkup(section: dict) -> list[Plot]:
    probes = {p["name"]: p for p in section["probes"] if p["status"] == "ran"}
    out = []
    overfit = probes.get("overfit")
    if overfit and overfit.get("losses"):
        fig = _figure(2.8)
        ax = fig.add_subplot()
        losses = overfit["losses"]
        ax.plot(np.linspace(0, overfit["steps"] - 1, len(losses)), losses, lw=1.2)
        _log_if_positive(ax, [losses])
        _finish(ax, "loss", xlabel="step on one batch")
        verdict = "reached" if overfit["passed"] else "did not reach"
        out.append(Plot("overfit", f"Overfit one batch ({overfit['optimizer']}, lr {overfit['lr']:.3g}): "
                        f"the loss {verdict} the target.", fig))
    lr = probes.get("lr-range")
    if lr and lr.get("lrs"):
        fig = _figure(2.8)
        ax = fig.add_subplot()
        ax.semilogx(lr["lrs"], lr["losses"], lw=1.2)
        ax.axvline(lr["suggested_lr"], color="#2ca02c", ls="--", label=f"suggested {lr['suggested_lr']:.2g}")
        if lr.get("current_lr"):
            ax.axvline(lr["current_lr"], color="#d62728", ls=":", label=f"configured {lr['current_lr']:.2g}")
        _finish(ax, "loss (smoothed)", xlabel="learning rate", legend=True)
        out.append(Plot("lr-range", "LR range test on one batch, on a copy of the model.", fig))
    return out


# ── sweeps ───────────────────────────────────────────────────────────────────

def _sweeps(section: dict, report: Report) -> list[Plot]:
    """Per group and parameter: one line per seed across the parameter's values, the mean in black. Lines
    that move together are an effect; one line that leaves the bundle is a lucky seed (drawn in red)."""
    lucky = {(e.get("group"), e.get("parameter")): str(e.get("seed"))
             for f in report.findings if f.code == "lucky-seed" for e in f.evidence.get("by_parameter", ())}
    out = []
    for group, entry in section["groups"].items():
        for param, st in entry["parameters"].items():
            values = [r["value"] for r in st["values"]]
            numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
            x = values if numeric else list(range(len(values)))
            fig = _figure(3.0)
            ax = fig.add_subplot()
            odd = lucky.get((group, param))
            for i, (seed, line) in enumerate(st["lines"].items()):
                y = [np.nan if v is None else v for v in line]
                if seed == odd:
                    ax.plot(x, y, "o-", lw=1.8, ms=4, color="#d62728", label=f"seed {_literal(seed)} (lucky)", zorder=4)
                else:
                    ax.plot(x, y, "o-", lw=1, ms=3, alpha=0.6, color=_SEED_COLORS[i % len(_SEED_COLORS)],
                            label=f"seed {_literal(seed)}")
            ax.plot(x, [r["mean"] for r in st["values"]], "s-", lw=2.4, ms=5, color="black", label="mean", zorder=5)
            if numeric and (st.get("trend") or {}).get("log_scale"):
                ax.set_xscale("log")
            if numeric:
                ax.set_xticks(x, [f"{v:g}" for v in x])
                ax.minorticks_off()
            else:
                ax.set_xticks(x, [_literal(str(v)) for v in values])
            _finish(ax, _literal(section["metric"]), xlabel=_literal(param))
            if len(st["lines"]) <= 12:  # beside the plot: the lines cross it everywhere
                ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)
            where = f" in group {group}" if group else ""
            better = "higher" if section["higher_is_better"] else "lower"
            out.append(Plot(_stem(f"sweep-{param}" + (f"-{group}" if group else "")),
                            f"{section['metric']} by {param}{where} ({better} is better): one line per seed "
                            f"({len(st['lines'])}), the mean in black. Lines that move together are an effect; a "
                            "single line that leaves the bundle is a lucky seed.", fig))
    return out


# seeds' lines: tab10 without its red, which marks a lucky seed
_SEED_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")


def _stem(name: str) -> str:
    """A figure's file stem from user text: letters, digits, dot, dash and underscore only."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)[:80]


# ── surface ──────────────────────────────────────────────────────────────────

def _surface(component: dict) -> Plot:
    """The loss over its grid: for two axes a contour with the negative-gradient direction (where the optimizer
    moves) as arrows; for one axis the loss and its negative derivative. Cells of zero gradient above the lowest
    loss are grey dots, non-finite cells red crosses, saddles black stars, the table's inputs labelled."""
    grid, axes, name = component["grid"], component["axes"], component["name"]
    coords = [np.asarray(c, dtype=float) for c in grid["coords"]]
    loss = np.asarray(grid["loss"], dtype=float)
    grads = [np.asarray(grid["grads"][a], dtype=float) for a in axes]
    dead = [tuple(ij) for ij in grid["dead"]]
    bad = ~np.isfinite(loss) | ~np.isfinite(sum(grads))
    if len(axes) == 1:
        fig = _figure(4.2)
        top, bottom = fig.subplots(2, 1, sharex=True)
        x = coords[0]
        top.plot(x, np.where(bad, np.nan, loss), lw=1.4, color="#1f77b4")
        bottom.plot(x, np.where(bad, np.nan, -grads[0]), lw=1.2, color="#9467bd")
        bottom.axhline(0, color="black", lw=0.6)
        for ax in (top, bottom):
            _surface_marks(ax, coords, dead, bad, [])
        _table_marks(top, component, axes, loss_axis=True)
        _finish(top, _literal(f"{name}"), xlabel=None)
        _finish(bottom, f"−∂loss/∂{_literal(axes[0])}", xlabel=_literal(axes[0]))
        caption = (f"{name} over {axes[0]} with its negative derivative (the direction the optimizer moves {axes[0]}). "
                   "Grey dots: zero gradient above the lowest loss (a dead zone); red crosses: NaN or infinite.")
        return Plot(_stem(f"surface-{name}"), caption, fig)
    fig = _figure(5.2)
    ax = fig.add_subplot()
    X, Y = np.meshgrid(coords[0], coords[1], indexing="ij")
    shown = np.ma.masked_where(bad, loss)
    if shown.count() > 1 and np.ptp(shown.compressed()) > 0:
        image = ax.contourf(X, Y, shown, levels=20, cmap="viridis")
        fig.colorbar(image, ax=ax, label=_literal(name), pad=0.01)
    step = max(1, len(coords[0]) // 15)
    gx, gy = (-g[::step, ::step] for g in grads)
    norm = np.hypot(gx, gy)
    with np.errstate(invalid="ignore", divide="ignore"):
        u, v = np.where(norm > 0, gx / norm, 0), np.where(norm > 0, gy / norm, 0)
    ax.quiver(X[::step, ::step], Y[::step, ::step], u, v, color="white", alpha=0.85, pivot="mid",
              angles="xy", scale=25, width=0.003)
    _surface_marks(ax, coords, dead, bad, [tuple(ij) for ij in grid["saddles"]])
    _table_marks(ax, component, axes)
    ax.set_xlabel(_literal(axes[0]))
    ax.set_ylabel(_literal(axes[1]))
    caption = (f"{name} over {axes[0]} and {axes[1]}: colour is the loss, arrows the negative gradient's direction "
               "(where the optimizer moves; their length is fixed, the colour gives the scale). Grey dots: zero gradient "
               "above the lowest loss (a dead zone); red crosses: NaN or infinite; black star: a saddle.")
    return Plot(_stem(f"surface-{name}"), caption, fig)


def _surface_marks(ax, coords: list[np.ndarray], dead: list[tuple], bad: np.ndarray, saddles: list[tuple]) -> None:
    def at(cells):
        return [tuple(c[i] for c, i in zip(coords, ij)) for ij in cells]

    one = len(coords) == 1
    for cells, style in ((dead, dict(marker=".", color="#7f7f7f", s=6, label="dead zone")),
                         ([tuple(ij) for ij in np.argwhere(bad)], dict(marker="x", color="#d62728", s=10, label="non-finite")),
                         (saddles, dict(marker="*", color="black", s=120, label="saddle"))):
        if not cells:
            continue
        points = at(cells)
        if one:
            ax.scatter([p[0] for p in points], [0.02] * len(points), transform=ax.get_xaxis_transform(), zorder=4, **style)
        else:
            ax.scatter([p[0] for p in points], [p[1] for p in points], zorder=4, **style)


def _table_marks(ax, component: dict, axes: list[str], loss_axis: bool = False) -> None:
    """The table's inputs on the figure, each labelled (zero, converged, ...)."""
    for r in component["table"]:
        xy = [_num(r["values"][a]) for a in axes]
        y = r["loss"] if loss_axis else xy[1]
        if y is None or not math.isfinite(_num(y)):
            continue
        color = "#d62728" if r.get("flags") else "black"
        ax.plot(xy[0], y, "o", ms=4, color=color, mfc="white" if not r.get("flags") else color, zorder=5)
        ax.annotate(_literal(r["input"]), (xy[0], y), xytext=(4, 4), textcoords="offset points", fontsize=7, color=color)


# ── data ─────────────────────────────────────────────────────────────────────

_HIST_SHOWN = 12  # small multiples in one figure; dimensions named by a finding come first
_SPLIT_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b")


def _data(section: dict, report: Report) -> list[Plot]:
    out = []
    hist = _histograms(section, report)
    out += [hist] if hist else []
    out += _class_balance(section)
    out += _slice_bars(section)
    out += _trajectories(section) + _bin_coverage(section) + _lag_correlations(section)
    return out


def _histograms(section: dict, report: Report) -> Plot | None:
    """Per dimension, each split's share of rows per bin (same bins in every split), so shapes compare across
    splits of different sizes; rows beyond the bins are counted in the title."""
    splits = section["splits"]
    train = next(iter(splits.values()))
    dims = [d for d, st in train["dims"].items() if "histogram" in st]
    if not dims:
        return None
    flagged = {str(c) for f in report.findings for c in f.location.get("columns", ())}
    flagged |= {e.get("dim") for f in report.findings for e in f.evidence.get("dims", ()) if isinstance(e, dict)}
    shown = sorted(dims, key=lambda d: (d not in flagged, dims.index(d)))[:_HIST_SHOWN]
    cols = min(3, len(shown))
    rows = math.ceil(len(shown) / cols)
    fig = Figure(figsize=(7, 1.7 * rows + 0.4), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False).ravel())
    for ax, dim in zip(axes, shown):
        outside = 0.0
        for k, (name, split) in enumerate(splits.items()):
            h = split["dims"].get(dim, {}).get("histogram")
            if not h:
                continue
            counts = np.asarray(h["counts"], dtype=float)
            total = counts.sum() + h["below"] + h["above"]
            if total <= 0:
                continue
            outside = max(outside, (h["below"] + h["above"]) / total)
            ax.stairs(counts / total, h["edges"], color=_SPLIT_COLORS[k % len(_SPLIT_COLORS)], lw=1.2,
                      fill=k == 0, alpha=0.35 if k == 0 else 1.0, label=_literal(name))
        mark = " !" if dim in flagged else ""
        ax.set_title(_literal(dim) + mark + (f" ({outside:.1%} outside)" if outside >= 0.001 else ""), fontsize=8)
        ax.tick_params(labelsize=7)
        ax.xaxis.set_major_locator(MaxNLocator(4))  # long numbers (positions in cm) must not run into each other
        ax.set_yticks([])
    for ax in axes[len(shown):]:
        ax.set_visible(False)
    if len(splits) > 1:
        axes[0].legend(fontsize=7, loc="upper right")
    more = f" (the first {len(shown)} of {len(dims)}; dimensions named by a finding first, marked !)" \
        if len(dims) > len(shown) else " (marked !: named by a finding)"
    return Plot("data-histograms", "Distribution of each dimension, share of rows per bin; bins span the 0.5-99.5% "
                "range of training, the share outside is in the title" + more
                + (", one line per split." if len(splits) > 1 else "."), fig)


def _class_balance(section: dict) -> list[Plot]:
    out = []
    per_target: dict[str, dict[str, dict[str, int]]] = {}
    for name, split in section["splits"].items():
        for target, counts in split.get("classes", {}).items():
            per_target.setdefault(target, {})[name] = counts
    for target, splits in per_target.items():
        labels = list(next(iter(splits.values())))
        for counts in splits.values():
            labels += [k for k in counts if k not in labels]
        labels = labels[:30]
        fig = _figure(max(1.6, 0.6 + 0.22 * len(labels) * max(1, len(splits)) ** 0.5))
        ax = fig.add_subplot()
        height = 0.8 / len(splits)
        for k, (name, counts) in enumerate(splits.items()):
            total = sum(counts.values()) or 1
            y = np.arange(len(labels)) + k * height
            ax.barh(y, [counts.get(c, 0) / total for c in labels], height=height,
                    color=_SPLIT_COLORS[k % len(_SPLIT_COLORS)], label=_literal(name))
        ax.set_yticks(np.arange(len(labels)) + 0.4 - height / 2, [_literal(c) for c in labels], fontsize=7)
        ax.invert_yaxis()
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.0%}"))
        _finish(ax, "class", xlabel="share of rows", legend=len(splits) > 1)
        out.append(Plot(_stem(f"class-balance-{target}"), f"Class balance of `{target}`: share of each split's rows per "
                        "class, most frequent first.", fig))
    return out


def _slice_bars(section: dict) -> list[Plot]:
    """Per split and slice column: the metric per slice (worst first) against the aggregate; slices too small to
    judge are drawn pale."""
    out = []
    for split, columns in section.get("slices", {}).items():
        for column, table in columns.items():
            rows = table["slices"]
            if not rows:
                continue
            fig = _figure(max(1.6, 0.7 + 0.26 * len(rows)))
            ax = fig.add_subplot()
            y = np.arange(len(rows))
            colors = ["#d62728" if r.get("underperforms") else "#1f77b4" if r.get("judged") else "#b0b8c4" for r in rows]
            ax.barh(y, [r["mean"] for r in rows], color=colors)
            ax.axvline(table["aggregate"], color="black", ls="--", lw=1, label=f"all rows {table['aggregate']:.3g}")
            ax.set_yticks(y, [f"{_literal(r['value'])} (n={r.get('rows', r['sampled'])})" for r in rows], fontsize=7)
            ax.invert_yaxis()
            better = "higher" if table["higher_is_better"] else "lower"
            _finish(ax, _literal(column), xlabel=f"{_literal(table['metric'])} ({better} is better)", legend=True)
            out.append(Plot(_stem(f"slices-{split}-{column}"), f"{table['metric']} by `{column}` in {split}, worst slice "
                            "first, against all rows (dashed); red: a slice that underperforms, grey: too few rows "
                            "to judge.", fig))
    return out


def _trajectories(section: dict) -> list[Plot]:
    """The longest episodes' paths as the driving checks read them, each from its start (in a world frame the
    episodes lie kilometres apart, each a dot at that scale); same scale on both axes."""
    out = []
    for split, read in section.get("driving", {}).items():
        paths = read.get("paths") or []
        if not paths:
            continue
        fig = _figure(3.2)
        ax = fig.add_subplot()
        for path in paths:
            x0, y0 = path["x"][0], path["y"][0]
            ax.plot([v - x0 for v in path["x"]], [v - y0 for v in path["y"]], lw=1)
        ax.plot([0], [0], "o", ms=4, color="black")
        ax.set_aspect("equal", adjustable="datalim")
        ax.xaxis.set_major_locator(MaxNLocator(5))
        x, y = read["position"]
        _finish(ax, f"{_literal(y)} from the start", xlabel=f"{_literal(x)} from the start")
        out.append(Plot(_stem(f"trajectories-{split}"), f"The {len(paths)} longest episodes of {split} as the driving "
                        "checks read them, each moved to start at the dot, in the positions' own unit (a lane is "
                        "about 3.5 m: paths metres or kilometres long tell the unit).", fig))
    return out


def _bin_coverage(section: dict) -> list[Plot]:
    """Per action dimension, how its values fill its bins (uniform bins over its range, or its integer codes):
    a row per dimension, log counts, empty bins white."""
    bins = section.get("robotics", {}).get("bins") or {}
    if not bins:
        return []
    width = max(b["bins"] for b in bins.values())
    grid = np.full((len(bins), width), np.nan)
    for i, b in enumerate(bins.values()):
        counts = np.asarray(b["counts"], dtype=float)
        grid[i, :len(counts)] = np.where(counts > 0, np.log10(np.maximum(counts, 1)), np.nan)
    fig = _figure(max(1.4, 0.6 + 0.3 * len(bins)))
    ax = fig.add_subplot()
    image = ax.imshow(grid, aspect="auto", interpolation="nearest", cmap="viridis")
    ax.set_yticks(range(len(bins)), [_literal(d) for d in bins], fontsize=7)
    fig.colorbar(image, ax=ax, label="log10 rows")
    _finish(ax, "", xlabel="bin")
    return [Plot("bin-coverage", "Bin coverage of each action dimension: rows per bin (log scale) over 256 uniform bins "
                 "of its range, or per integer code; white bins are never used.", fig)]


def _lag_correlations(section: dict) -> list[Plot]:
    """The cross-correlations the lag checks peak-pick: actions against observations (robotics), each target
    against the vehicle's state (driving). The peak's lag is where the column leads or trails."""
    curves = []
    lag = section.get("robotics", {}).get("lag_correlation")
    if lag:
        curves.append((f"x `{lag['action']}`, y `{lag['obs']}` ({lag['relation']})", lag))
    for split, targets in section.get("driving_lags", {}).items():
        curves += [(f"{split}: x {c['follows']}, y `{t}`", c) for t, c in targets.items()]
    if not curves:
        return []
    fig = _figure(2.4)
    ax = fig.add_subplot()
    for label, c in curves[:6]:
        ax.plot(c["lags"], [np.nan if v is None else v for v in c["corr"]], marker="o", ms=3, lw=1,
                label=_literal(label))
    ax.axvline(0, color="black", lw=0.8, ls="--")
    _finish(ax, "correlation", xlabel="lag k (steps): corr(x_t, y_{t+k})", legend=True)
    return [Plot("lag-correlation", "Cross-correlation of the changes of x and y per lag k, pooled within episodes: "
                 "where each curve peaks is the lag the checks read. k < 0: y moves |k| steps before x (a future "
                 "target offset should lead the state by half its horizon; an observation should not move before "
                 "the action that moves it).", fig)]


# ── helpers ──────────────────────────────────────────────────────────────────

def _literal(name: str) -> str:
    """A user's series or module name as matplotlib text: `$` would start mathtext, which raises on `$\\foo$`."""
    return str(name).replace("$", r"\$")


def _figure(height: float) -> Figure:
    return Figure(figsize=(7, height), layout="constrained")


def _num(v) -> float:
    """A number from a record; the JSON report writes non-finite ones as "nan"/"inf", a missing one is NaN."""
    return float("nan") if v is None else float(v)


def _log_if_positive(ax, columns: list, spread: float = 20) -> None:
    """Log scale when every value is positive and they span more than `spread`x."""
    values = np.concatenate([np.asarray(c, dtype=float) for c in columns]) if columns else np.array([])
    values = values[np.isfinite(values)]
    if values.size and values.min() > 0 and values.max() / values.min() > spread:
        ax.set_yscale("log")
        # plain numbers (0.2, 5) instead of 2x10^-1; minor ticks labelled only within two decades
        few = values.max() / values.min() < 100
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_formatter(FuncFormatter(
            lambda v, _: f"{v:g}" if few and f"{v:.0e}"[0] in "25" else ""))


def _mark_events(ax, report: Report, series: list[str]) -> None:
    """Shade the step range of each finding about one of the drawn series; labels are stacked
    so that events starting at nearby steps stay legible."""
    marked = [f for f in report.findings if f.location.get("steps") and f.location.get("series") in series]
    for row, f in enumerate(marked):
        lo, hi = f.location["steps"][:2]
        color = _SEVERITY_COLOR[f.severity]
        if hi > lo:
            ax.axvspan(lo, hi, color=color, alpha=0.12, lw=0)
        else:
            ax.axvline(lo, color=color, alpha=0.5, lw=1, ls="--")
        ax.annotate(f.code, xy=(lo, 1), xycoords=("data", "axes fraction"), xytext=(3, -3 - 11 * row),
                    textcoords="offset points", va="top", fontsize=8, color=color)


def _mark_steps(ax, report: Report) -> None:
    for f in report.findings:
        if f.location.get("step") is not None:
            ax.axvline(f.location["step"], color=_SEVERITY_COLOR[f.severity], lw=1, ls="--", alpha=0.7)


def _finish(ax, ylabel: str, xlabel: str | None = "step", legend: bool = False) -> None:
    ax.set_ylabel(ylabel)
    if xlabel:
        ax.set_xlabel(xlabel)
    ax.grid(alpha=0.3)
    if legend:
        ax.legend(loc="best", fontsize=8)
