"""Features that know the future of the target: in data with a time or episode order, a feature whose
correlation with the target peaks at a later step than its own — corr(feature_t, target_{t+k}) above
corr(feature_t, target_{t-k}) — and that tells the target k steps on better than the target's own present
value does. A value of the present, a lagged report, a moving average of the past all peak at k <= 0."""

from __future__ import annotations

import numpy as np

from ..judge.thresholds import FUTURE_CORR, FUTURE_LEAD, LAG_MAX
from ..vocabulary.finding import Finding, finding
from .audit import Audit
from ..judge.columns import SHOWN, _at, _is_classes
from .checks import SOURCE
from .series import column, cross_correlation, in_time_order, peak, refined, times, whole


def future_targets(a: Audit) -> list[Finding]:
    p = a.train
    ordered = times(a, p) is not None or any(g in p.sample.rows for g in a.roles.groups)
    if not ordered or not whole(p):  # neighbouring rows must be neighbouring steps
        return []
    eps = in_time_order(a, p)
    rows = []
    for tcol, ti, tname in a.targets():
        if p.layouts[tcol].pooled or (_is_classes(p, tcol) and len(p.counts[tcol][ti].counts or {}) > 2):
            continue
        y = column(a, p, tcol)[:, ti]
        for c, i, name in a.features():
            if p.layouts[c].pooled:
                continue
            found = _ahead(column(a, p, c)[:, i], y, eps)
            if found:
                rows.append({"feature": name, "target": tname, **found})
    if not rows:
        return []
    rows.sort(key=lambda r: -r["corr"])
    return [finding("future-feature", f"{len(rows)} feature(s) of {p.name} correlate with the target some steps "
                    "ahead more than with its present or past, and tell that future better than the target's own "
                    "present value does: " + "; ".join(
                        f"`{r['feature']}` peaks {r['lead']:.1f} step(s) ahead of `{r['target']}` (r {r['corr']:.2f} "
                        f"on {r['on']}; the target's own lag-{r['k']} autocorrelation {r['persistence']:.2f})"
                        for r in rows[:SHOWN]), SOURCE, evidence={"features": rows[:50], "by": "target"},
                    location=_at(p, [r["feature"] for r in rows]))]


def _ahead(x: np.ndarray, y: np.ndarray, eps: list[np.ndarray]) -> dict | None:
    """On the levels, then on the changes (a trending series correlates with itself at every lag): the lead of
    the peak of corr(x_t, y_{t+k}), when it is a whole step or more ahead, at FUTURE_CORR or more, and above
    corr(y_t, y_{t+k}) at the same k (persistence: what the present target already says about its future)."""
    for on, f in (("levels", lambda v: v), ("changes", np.diff)):
        xs, ys = [f(x[e]) for e in eps], [f(y[e]) for e in eps]
        corr = cross_correlation(xs, ys, LAG_MAX)
        top = peak(corr, LAG_MAX)
        if top is None:
            continue
        lead = refined(corr, LAG_MAX)
        k = top[0]
        if lead is None or lead < FUTURE_LEAD or top[1] < FUTURE_CORR:
            continue
        own = cross_correlation(ys, ys, LAG_MAX)[LAG_MAX + k]
        if np.isfinite(own) and top[1] > own and top[1] > corr[LAG_MAX - k]:
            return {"lead": float(lead), "k": k, "corr": top[1], "past": float(corr[LAG_MAX - k]),
                    "persistence": float(own), "on": on}
    return None
