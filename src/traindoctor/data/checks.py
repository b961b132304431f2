"""The generic checks: each reads the splits' profiles and returns findings. The checks of one column at a
time (constant, outliers, sentinels, missing, target scales, classes) are judge/columns.py's, shared with
`run` and the Monitor; the ones here need whole splits (duplicates, overlap, shift, leakage, time order).
Every number they decide with is in judge/thresholds.py. A domain's checks (driving, robotics) are a list
of their own in CHECKS, run after the generic ones; SERIES names those that read rows as time series."""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..judge import columns
from ..judge.columns import LISTED, SHOWN, Columns, _at, _finite, _is_classes
from ..judge.thresholds import (
    DUPLICATE_CHANCE, DUPLICATE_SHARE, GROUP_OVERLAP_SHARE, LEAK_BINS, LEAK_MIN_ROWS, LEAK_PERSISTENCE, LEAK_SCORE,
    NEAR_BITS, SHIFT_EFFECT, SHIFT_FDR, SHIFT_MIN_EXPECTED, SHUFFLE_AUTOCORR, SHUFFLE_INSIDE, SHUFFLE_SIMILAR,
)
from ..measure.profile import HASHED, Profile
from ..measure.streaming import column_hashes, quantised
from ..vocabulary.finding import Finding, finding
from ..vocabulary.numbers import fmt
from .audit import Audit

SOURCE = "data"


def column_checks(a: Audit) -> list[Finding]:
    """The column rules every producer shares (judge/columns.py), on the splits' profiles."""
    return columns.check(Columns(a.train, SOURCE, a.features(), a.targets(), list(a.roles.target), a.evals))


# ── rows and splits ─────────────────────────────────────────────────────────────────────────────

def duplicates(a: Audit) -> list[Finding]:
    out = []
    chance = _agreement(a.train)
    train = a.train.hashes
    hashes = train.under(train.bar)
    if len(hashes):
        _, counts = np.unique(hashes, return_counts=True)
        repeats = int((counts - 1).sum())
        share = repeats / len(hashes)
        expected = min(1.0, chance * (a.train.rows - 1))
        if share >= DUPLICATE_SHARE and share >= DUPLICATE_CHANCE * expected:
            out.append(finding("duplicate-rows", f"{share:.1%} of the rows of {a.train.name} repeat another row exactly "
                               f"({_count(repeats, train.sampled)} rows; rows agreeing by chance: {expected:.2%})",
                               SOURCE, evidence={"share": share, "repeats": repeats, "chance": expected,
                                                 "hash_sample": train.sampled}, location={"split": a.train.name}))
    for p in a.evals:
        bar = min(train.bar, p.hashes.bar)
        theirs = p.hashes.under(bar)
        if not len(theirs):
            continue
        shared = int(np.isin(theirs, train.under(bar)).sum())
        share = shared / len(theirs)
        expected = min(1.0, chance * a.train.rows)
        if share >= DUPLICATE_SHARE and share >= DUPLICATE_CHANCE * expected:
            out.append(finding("split-overlap", f"{share:.1%} of the rows of {p.name} also appear, identical, in "
                               f"{a.train.name} ({_count(shared, bar / float(np.iinfo(np.uint64).max))} rows; "
                               f"by chance: {expected:.2%})", SOURCE,
                               evidence={"split": p.name, "share": share, "rows": shared, "chance": expected, "by": "rows"},
                               location={"split": p.name}))
    return out


def near_duplicates(a: Audit) -> list[Finding]:
    """Rows equal once numbers are rounded (NEAR_BITS), beyond the exact duplicates duplicates() judges:
    copies re-exported through float32 or printed round-off, under new row ids."""
    out = []
    chance = _agreement(a.train, near=True, ids=tuple(a.roles.ids))
    exact, near = a.train.hashes, a.train.near
    repeats = _repeats(near.under(near.bar))
    share = repeats / max(len(near.under(near.bar)), 1)
    already = _repeats(exact.under(exact.bar)) / max(len(exact.under(exact.bar)), 1)
    expected = min(1.0, chance * (a.train.rows - 1))
    if share - already >= DUPLICATE_SHARE and share >= DUPLICATE_CHANCE * expected:
        out.append(finding("near-duplicates", f"{share:.1%} of the rows of {a.train.name} repeat another row once "
                           f"numbers are rounded to {_digits()} significant digits ({already:.1%} repeat exactly; "
                           f"{_count(repeats, near.sampled)} rows; rows agreeing by chance: {expected:.2%})",
                           SOURCE, evidence={"share": share, "exact_share": already, "repeats": repeats,
                                             "chance": expected, "hash_sample": near.sampled},
                           location={"split": a.train.name}))
    for p in a.evals:
        shared, total = _shared(a.train.near, p.near)
        same, same_total = _shared(a.train.hashes, p.hashes)
        if not total:
            continue
        share, already = shared / total, same / max(same_total, 1)
        expected = min(1.0, chance * a.train.rows)
        exact_found = already >= DUPLICATE_SHARE and already >= DUPLICATE_CHANCE * expected
        if not exact_found and share >= DUPLICATE_SHARE and share >= DUPLICATE_CHANCE * expected:
            out.append(finding("split-overlap", f"{share:.1%} of the rows of {p.name} match rows of {a.train.name} "
                               f"once numbers are rounded to {_digits()} significant digits ({already:.1%} match "
                               f"exactly; {shared} rows; by chance: {expected:.2%}): copies stored or printed "
                               "with other precision", SOURCE,
                               evidence={"split": p.name, "share": share, "exact_share": already, "rows": shared,
                                         "chance": expected, "by": "near rows"}, location={"split": p.name}))
    return out


def _repeats(hashes: np.ndarray) -> int:
    if not len(hashes):
        return 0
    _, counts = np.unique(hashes, return_counts=True)
    return int((counts - 1).sum())


def _shared(train, theirs) -> tuple[int, int]:
    bar = min(train.bar, theirs.bar)
    mine = theirs.under(bar)
    return int(np.isin(mine, train.under(bar)).sum()), len(mine)


def _digits() -> str:
    return f"{NEAR_BITS * np.log10(2):.1f}"


def _count(n: int, sampled: float) -> str:
    return str(n) if sampled >= 1 else f"about {n / sampled:.0f}, estimated from a hash sample of {sampled:.1%}"


def _agreement(p: Profile, near: bool = False, ids: tuple = ()) -> float:
    """The chance that two rows agree on every column by chance: the product over columns of the
    sample's collision probability of the column's hashes (unbiased: sum of c(c-1) over K(K-1)),
    columns taken as independent. `near`: of the columns with numbers rounded as near_duplicates()
    rounds them."""
    chance = 1.0
    for key, hashes in p.sample.rows.items():
        if not key.startswith(HASHED) or key[len(HASHED):] in ids:
            continue
        lay = p.layouts.get(key[len(HASHED):])
        if near and lay is not None and lay.kind == "number" and not lay.pooled:
            values = p.sample.rows[lay.name]
            hashes = column_hashes(quantised({lay.name: values}, NEAR_BITS))[lay.name]
        k = len(hashes)
        if k < 2:
            return 1.0
        _, counts = np.unique(hashes, return_counts=True)
        chance *= float((counts * (counts - 1)).sum()) / (k * (k - 1))
    return chance


def group_overlap(a: Audit) -> list[Finding]:
    out = []
    for column in a.roles.groups:
        train = a.train.groups.get(column, set())
        for p in a.evals:
            theirs = p.groups.get(column, set())
            shared = train & theirs
            if theirs and shared and len(shared) / len(theirs) >= GROUP_OVERLAP_SHARE:
                examples = sorted(map(str, shared))[:SHOWN]
                out.append(finding("split-overlap", f"{len(shared)} of the {len(theirs)} `{column}` values of {p.name} "
                                   f"also occur in {a.train.name} (e.g. {', '.join(examples)}): the same {column} is "
                                   "trained on and evaluated", SOURCE,
                                   evidence={"split": p.name, "column": column, "shared": len(shared),
                                             "groups": len(theirs), "examples": examples, "by": "group"},
                                   location=_at(p, [column])))
    return out


def shift(a: Audit) -> list[Finding]:
    if not a.evals:
        return []
    from scipy.stats import false_discovery_control, ks_2samp, kstwo

    out = []
    for p in a.evals:
        rows = []
        for column, i, name in a.features() + a.targets():
            if column not in p.layouts or p.layouts[column].kind != "number":
                continue
            x, y = _finite(a.train.sampled(column, i)), _finite(p.sampled(column, i))
            if len(x) < 20 or len(y) < 20:
                continue
            d = float(ks_2samp(x, y).statistic)
            nx, ny = _effective(a, a.train, column, i), _effective(a, p, column, i)
            pvalue = float(kstwo.sf(d, max(1, round(nx * ny / (nx + ny)))))
            mt, me = a.train.moments[column], p.moments[column]
            smd = (me.mean[i] - mt.mean[i]) / mt.std[i] if mt.std[i] > 0 else 0.0
            rows.append({"dim": name, "ks": d, "p": pvalue, "mean_shift_sd": float(smd), "effective_n": [nx, ny],
                         "train_mean": float(mt.mean[i]), "eval_mean": float(me.mean[i])})
        rows += [r for column in _text_features(a) if column in p.layouts and p.layouts[column].kind == "text"
                 and (r := _category_shift(a, p, column)) is not None]
        if not rows:
            continue
        adjusted = false_discovery_control([r["p"] for r in rows])
        shifted = [{**r, "p_adjusted": float(q)} for r, q in zip(rows, adjusted)
                   if q <= SHIFT_FDR and r["ks"] >= SHIFT_EFFECT]
        if not shifted:
            continue
        shifted.sort(key=lambda r: -r["ks"])
        out.append(finding("train-eval-shift", f"{len(shifted)} of {len(rows)} dimensions are distributed differently "
                           f"in {p.name} than in {a.train.name}: "
                           + "; ".join(_shifted(r) for r in shifted[:SHOWN]),
                           SOURCE, evidence={"split": p.name, "dims": shifted[:LISTED], "tested": len(rows)},
                           location=_at(p, [r["dim"] for r in shifted])))
    return out


def _shifted(r: dict) -> str:
    if r.get("test") == "chi2":
        moved = ", ".join(f"{k} {a:.0%} -> {b:.0%}" for k, a, b in r["categories"][:3])
        return f"`{r['dim']}` (categories) TV = {r['ks']:.2f}, Cramér's V {r['cramers_v']:.2f}: {moved}"
    return (f"`{r['dim']}` KS D = {r['ks']:.2f}, mean {fmt(r['train_mean'])} -> {fmt(r['eval_mean'])} "
            f"({r['mean_shift_sd']:+.1f} sd)")


def _category_shift(a: Audit, p: Profile, column: str) -> dict | None:
    """A categorical column's shift: a chi-square test of the 2 x k table of category counts in the row samples,
    categories expected fewer than SHIFT_MIN_EXPECTED times pooled into one (the test's validity), its
    statistic divided by the design effect of frames grouped in episodes (as the KS test counts effective
    samples). The effect is the total variation distance: the largest difference in probability of any set
    of categories, what the KS D is for ordered values; Cramér's V alongside."""
    from scipy.stats import chi2

    x, y = (np.asarray([str(v) for v in q.sample.rows[column] if v is not None and v == v and v != ""])
            for q in (a.train, p))
    if len(x) < 20 or len(y) < 20:
        return None
    cats, inv = np.unique(np.concatenate([x, y]), return_inverse=True)
    table = np.stack([np.bincount(inv[:len(x)], minlength=len(cats)), np.bincount(inv[len(x):], minlength=len(cats))])
    expected = table.sum(1, keepdims=True) * table.sum(0, keepdims=True) / table.sum()
    rare = expected.min(0) < SHIFT_MIN_EXPECTED
    if rare.any():
        table = np.column_stack([table[:, ~rare], table[:, rare].sum(1)])
        cats = np.append(cats[~rare], "(other)")
        expected = table.sum(1, keepdims=True) * table.sum(0, keepdims=True) / table.sum()
        if expected[:, -1].min() < SHIFT_MIN_EXPECTED:  # the pooled rest is itself too rare to test
            table, cats = table[:, :-1], cats[:-1]
            expected = table.sum(1, keepdims=True) * table.sum(0, keepdims=True) / table.sum()
    if table.shape[1] < 2:
        return None
    stat = float(((table - expected) ** 2 / expected).sum())
    deff = max(_design_effect(a, a.train, column), _design_effect(a, p, column))
    share = table / table.sum(1, keepdims=True)
    moved = np.argsort(-np.abs(share[1] - share[0]))
    n = float(table.sum())
    return {"dim": column, "test": "chi2", "ks": float(0.5 * np.abs(share[1] - share[0]).sum()),
            "cramers_v": float(np.sqrt(stat / n)), "chi2": stat, "design_effect": deff,
            "p": float(chi2.sf(stat / deff, table.shape[1] - 1)),
            "categories": [(str(cats[j]), float(share[0, j]), float(share[1, j])) for j in moved[:SHOWN]]}


def _design_effect(a: Audit, p: Profile, column: str) -> float:
    """n over the effective n of the column's most common category as an indicator, frames of an episode
    counted as _effective() counts them."""
    values = np.asarray([str(v) for v in p.sample.rows[column]])
    cats, counts = np.unique(values, return_counts=True)
    indicator = (values == cats[np.argmax(counts)]).astype(float)
    n = float(len(indicator))
    for group in a.roles.groups:
        if group in p.sample.rows:
            n = min(n, _clustered(p.sampled(group), indicator))
    return max(1.0, len(indicator) / max(n, 1.0))


def _effective(a: Audit, p: Profile, column: str, i: int) -> float:
    """How many independent samples the sampled values are worth. Frames of one episode may be alike:
    n / (1 + (m - 1) ICC), Kish's design effect for clusters of mean size m and intraclass correlation
    ICC; neighbours in a series too: n (1 - r) / (1 + r) for a lag-1 autocorrelation r (AR(1))."""
    values = p.sampled(column, i)
    n = float(np.isfinite(values).sum())
    for group in a.roles.groups:
        if group in p.sample.rows:
            n = min(n, _clustered(p.sampled(group), values))
    time = a.roles.time
    if time is not None and time in p.layouts and p.layouts[time].kind == "number":
        r = _lag1(p.sampled(time), values)
        if r is not None and r > 0:
            n = min(n, float(np.isfinite(values).sum()) * (1 - r) / (1 + r))
    return max(n, 1.0)


def _clustered(keys: np.ndarray, values: np.ndarray) -> float:
    """The effective size of a clustered sample (one-way ANOVA estimate of the ICC)."""
    keep = np.isfinite(values)
    keys, v = keys[keep], values[keep]
    if keys.dtype == object:
        keys = np.asarray([str(k) for k in keys])
    n = len(v)
    _, inv, counts = np.unique(keys, return_inverse=True, return_counts=True)
    k = len(counts)
    if k < 2 or k == n:
        return float(n)
    means = np.bincount(inv, weights=v) / counts
    msb = float((counts * (means - v.mean()) ** 2).sum()) / (k - 1)
    msw = float(((v - means[inv]) ** 2).sum()) / (n - k)
    m0 = (n - float((counts ** 2).sum()) / n) / (k - 1)
    icc = (msb - msw) / (msb + (m0 - 1) * msw) if msb + (m0 - 1) * msw > 0 else 0.0
    return n / (1 + (m0 - 1) * min(max(icc, 0.0), 1.0))


def _lag1(t: np.ndarray, values: np.ndarray) -> float | None:
    """Lag-1 correlation of the values along the samples sorted by time."""
    order = np.argsort(t, kind="stable")
    v = values[order[np.isfinite(t[order])]]
    v = v[np.isfinite(v)]
    if len(v) < 20 or np.std(v[1:]) == 0 or np.std(v[:-1]) == 0:
        return None
    return float(np.corrcoef(v[:-1], v[1:])[0, 1])


# ── features against the target ─────────────────────────────────────────────────────────────────

def leakage(a: Audit) -> list[Finding]:
    p, out = a.train, []
    for tcol, ti, tname in a.targets()[:8]:
        y = p.sampled(tcol, ti)
        classes = _is_classes(p, tcol)
        bar = _bar(a, y, classes)
        candidates = [(name, p.sampled(column, i)) for column, i, name in a.features()]
        candidates += [(column, p.sample.rows[column]) for column in _text_features(a)]
        candidates += [(f"{column} (its text without the numbers)", t) for column in _text_features(a)
                       if (t := _template(p.sample.rows[column])) is not None]
        for name, x in candidates:
            score = _single_feature(x, y, classes)
            if score is not None and score >= bar:
                out.append({"feature": name, "target": tname, "score": score, "bar": bar,
                            "measure": "error removed" if classes else "R2"})
    if not out:
        return []
    # an observation that determines the action is a policy (a scripted controller), not a leak: said, not warned
    policy = all(d["target"].split("[")[0] in a.roles.actions for d in out)
    return [finding("feature-leakage", f"{len(out)} single feature(s) of {p.name} predict the target almost exactly "
                    "on held-out samples" + (" (the target is an action: a policy may depend on one observation)"
                                             if policy else "") + ": " + "; ".join(
                        f"`{d['feature']}` -> `{d['target']}` " + (f"R² {d['score']:.4f}" if d["measure"] == "R2" else
                                                                 f"removes {d['score']:.1%} of the majority-class errors")
                        for d in out[:SHOWN]), SOURCE, evidence={"pairs": out[:LISTED]},
                    location=_at(p, [d["feature"] for d in out]), severity="info" if policy else None)]


def _bar(a: Audit, y: np.ndarray, classes: bool) -> float:
    """LEAK_SCORE; in a time series, also beyond the target's own previous value (persistence): a lagged
    copy of a slowly moving target predicts it well without leaking anything."""
    column = a.roles.time
    if column is None or a.train.layouts.get(column) is None or a.train.layouts[column].kind != "number":
        return LEAK_SCORE
    t = a.train.sampled(column)
    # Persistence within each episode: rows of interleaved episodes are neighbours in time, not in the series.
    group = next((g for g in a.roles.groups if g in a.train.sample.rows), None)
    e = np.asarray([str(v) for v in series.keys(a.train, group)]) if group else np.zeros(len(t), dtype=str)
    order = np.lexsort((t, e))
    order = order[np.isfinite(t[order])]
    y, e = y[order], e[order]
    keep = np.array([v is not None and v == v for v in y]) if y.dtype == object else np.isfinite(y)
    y, e = y[keep], e[keep]
    same = e[1:] == e[:-1]
    if same.sum() < LEAK_MIN_ROWS:
        return LEAK_SCORE
    before, now = y[:-1][same], y[1:][same]
    if classes:
        _, counts = np.unique(now.astype(str), return_counts=True)
        base = 1 - counts.max() / len(now)
        persisted = 1 - float(np.mean(now.astype(str) != before.astype(str))) / base if base > 0 else 0.0
    else:
        sst = float(((now - now.mean()) ** 2).sum())
        persisted = 1 - float(((now - before) ** 2).sum()) / sst if sst > 0 else 0.0
    return max(LEAK_SCORE, 1 - (1 - persisted) * LEAK_PERSISTENCE)


def _template(values: np.ndarray) -> np.ndarray | None:
    """Identifiers made of a template and a serial number (file names, keys: `pos_0417.png`): each value with
    its runs of digits replaced, when most values are distinct and their templates are not — the template is
    then a category a single-feature predictor can read."""
    import re

    text = [str(v) for v in values if v is not None and v == v]
    if len(text) < LEAK_MIN_ROWS or len(set(text)) < len(text) / 2:
        return None
    out = np.asarray([re.sub(r"\d+", "#", str(v)) if v is not None and v == v else None for v in values],
                     dtype=object)
    return out if len(set(out.tolist())) <= len(text) / 2 else None


def _text_features(a: Audit) -> list[str]:
    special = a.roles.special()
    return [c for c, lay in a.train.layouts.items() if lay.kind == "text" and c not in special]


def _single_feature(x: np.ndarray, y: np.ndarray, classes: bool) -> float | None:
    """How much of the error of a constant prediction one feature removes, on the held-out half of the
    sample (even rows fit, odd rows judge): 1 - error/baseline, R² for a continuous target."""
    keep = np.array([v is not None and v == v for v in y]) if y.dtype == object else np.isfinite(y)
    if x.dtype != object:
        keep &= np.isfinite(x)
    x, y = x[keep], y[keep]
    if len(x) < LEAK_MIN_ROWS:
        return None
    bins = _bins(x[0::2], x)
    fit, judge = bins[0::2], bins[1::2]
    if classes:
        y = np.unique(np.asarray([str(v) for v in y], dtype=object) if y.dtype == object else y, return_inverse=True)[1]
    yf, yj = y[0::2], y[1::2]
    if classes:
        majority = np.bincount(yf).argmax()
        table = np.zeros((bins.max() + 1, y.max() + 1))
        np.add.at(table, (fit, yf), 1)
        guess = np.where(table.sum(1) > 0, table.argmax(1), majority)
        base = np.mean(yj != majority)
        return None if base == 0 else 1.0 - float(np.mean(guess[judge] != yj)) / base
    yf, yj = yf.astype(float), yj.astype(float)
    total = np.bincount(fit, weights=yf, minlength=bins.max() + 1)
    seen = np.bincount(fit, minlength=bins.max() + 1)
    means = np.where(seen > 0, total / np.maximum(seen, 1), yf.mean())
    sst = float(((yj - yf.mean()) ** 2).sum())
    return None if sst == 0 else 1.0 - float(((yj - means[judge]) ** 2).sum()) / sst


def _bins(fit: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Each value's bin: its category (the most frequent LEAK_BINS - 1; the rest share one), or its
    quantile bin among up to LEAK_BINS bins of the fitting half."""
    if x.dtype == object:
        text = np.asarray([str(v) for v in x], dtype=object)
        cats, counts = np.unique(np.asarray([str(v) for v in fit], dtype=object), return_counts=True)
        top = {c: j for j, c in enumerate(cats[np.argsort(-counts, kind="stable")][:LEAK_BINS - 1])}
        return np.asarray([top.get(t, len(top)) for t in text])
    edges = np.unique(np.quantile(fit, np.linspace(0, 1, LEAK_BINS + 1)[1:-1]))
    return np.searchsorted(edges, x, side="right")


def shuffled_time(a: Audit) -> list[Finding]:
    column = a.roles.time
    if not a.evals or column is None or a.train.layouts.get(column) is None or a.train.layouts[column].kind != "number":
        return []
    from scipy.stats import ks_2samp

    out = []
    t = a.train.sampled(column)
    for p in a.evals:
        if column not in p.layouts or _grouped(a, p):
            continue
        te = _finite(p.sampled(column))
        tt = _finite(t)
        if len(tt) < 20 or len(te) < 20:
            continue
        lo, hi = np.quantile(tt, [0.01, 0.99])
        inside = float(np.mean((te >= lo) & (te <= hi)))
        similar = float(ks_2samp(tt, te).statistic)
        series = _autocorrelation(a, t)
        if inside >= SHUFFLE_INSIDE and similar <= SHUFFLE_SIMILAR and series is not None and series >= SHUFFLE_AUTOCORR:
            out.append(finding("shuffled-time-split", f"{inside:.0%} of the `{column}` values of {p.name} lie inside the "
                               f"time range of {a.train.name} and are distributed alike (KS D = {similar:.2f}), while "
                               f"neighbouring rows in time are alike (lag-1 autocorrelation {series:.2f}): the split "
                               "interleaves the series at random", SOURCE,
                               evidence={"split": p.name, "inside": inside, "ks": similar, "autocorrelation": series},
                               location=_at(p, [column])))
    return out


def _grouped(a: Audit, p: Profile) -> bool:
    """A split by group (episode, scene) with no group shared: interleaved times are by design."""
    return any(a.train.groups.get(c) and p.groups.get(c) and not (a.train.groups[c] & p.groups[c])
               for c in a.roles.groups)


def _autocorrelation(a: Audit, t: np.ndarray) -> float | None:
    """Lag-1 correlation of the target (or, with no numeric target, the largest over the features)
    along the sampled rows sorted by time."""
    dims = [d for d in a.targets() if a.train.layouts[d[0]].kind == "number"] or a.features()
    found = [r for column, i, _ in dims[:50] if (r := _lag1(t, a.train.sampled(column, i))) is not None]
    return max(found) if found else None


from . import driving, robotics, series  # noqa: E402  (the domains' checks import this module's helpers)
from .label_noise import label_noise  # noqa: E402  (imports this module's helpers)
from .slices import slices  # noqa: E402
from .future import future_targets  # noqa: E402  (imports this module's helpers)

CHECKS: dict[str, list[Callable[[Audit], list[Finding]]]] = {
    "generic": [column_checks, duplicates, near_duplicates, group_overlap,
                shift, leakage, future_targets, shuffled_time, label_noise, slices],
    "driving": driving.CHECKS,
    "robotics": robotics.CHECKS,
}
# The checks that read rows as time series: on a long split, they read its stretches of consecutive rows.
SERIES = {future_targets, *driving.CHECKS, robotics.describe, robotics.action_lag}
