"""Loss curves with the detected events shaded (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ..findings import Report  # noqa: E402
from .readers import load  # noqa: E402

_COLORS = {"error": "#d62728", "warning": "#ff7f0e", "info": "#1f77b4"}


def plot_curves(path: str | Path, report: Report, out: Path) -> None:
    curves = load(path)
    roles = report.sections["curves"]["roles"]
    panels = [("loss", roles["train"] + roles["val"])] + ([("metric", roles["metrics"])] if roles["metrics"] else [])
    fig, axes = plt.subplots(len(panels), 1, figsize=(9, 3.2 * len(panels)), sharex=True, squeeze=False)
    for ax, (label, names) in zip(axes[:, 0], panels):
        for name in names:
            s = curves[name]
            step = max(1, len(s.values) // 5000)  # a screen has no more pixels than this
            ax.plot(s.steps[::step], s.values[::step], label=name, lw=1)
        positive = [curves[n].values for n in names]
        if label == "loss" and all(np.nanmin(v[np.isfinite(v)]) > 0 for v in positive if np.isfinite(v).any()):
            ax.set_yscale("log")
        ax.set_ylabel(label)
        ax.legend(loc="upper right", fontsize=8)
        ax.grid(alpha=0.3)
    for f in report.findings:
        lo, hi = f.location.get("steps", [None, None])
        if lo is None:
            continue
        for ax in axes[:, 0]:
            ax.axvspan(lo, max(hi, lo + 1e-9), color=_COLORS[f.severity], alpha=0.12)
        axes[0, 0].annotate(f.code, xy=(lo, 1), xycoords=("data", "axes fraction"), va="top", fontsize=8,
                            color=_COLORS[f.severity])
    axes[-1, 0].set_xlabel("step")
    fig.suptitle(f"traindoctor curves — {Path(path).name}", fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
