"""The column rules: what one pass over columns of numbers and labels shows — constant and near-constant
dimensions, outliers, sentinel codes, missing values, target dimensions of mismatched scale, class balance.

They read a `measure.profile.Profile`, whoever built it: `traindoctor data` over whole splits, `run` and
the Monitor over the batches their training script fed the model (one implementation for all three).
Every number they decide with is in thresholds.py."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..measure.batches import BatchColumns, Stream
from ..measure.profile import Profile
from ..measure.streaming import EXTREMES
from ..vocabulary.finding import Finding, finding
from ..vocabulary.numbers import fmt
from .thresholds import (
    CLASS_MAJORITY, CLASS_MIN_LABELS, CLASSES_MAX, LEAK_MIN_ROWS, NEAR_CONSTANT, OUTLIER_ROWS, OUTLIER_SS_SHARE,
    OUTLIER_Z, RARE_CLASS_COUNT, SENTINEL_REST_DISTINCT, SENTINEL_SHARE, SENTINEL_Z, TARGET_SCALE_RATIO,
)

SHOWN = 5  # dimensions named in an observation; the evidence lists up to LISTED
LISTED = 50


@dataclass
class Columns:
    """What the column rules read: the profile of the training rows (and of evaluation splits, if any),
    which (column, index, dimension) are features and targets, and the producer named in findings."""

    train: Profile
    source: str
    features: list[tuple[str, int, str]] = field(default_factory=list)
    targets: list[tuple[str, int, str]] = field(default_factory=list)
    target_columns: list[str] = field(default_factory=list)  # text labels too, which have no numeric dimension
    evals: list[Profile] = field(default_factory=list)


def check(a: Columns, rules: tuple = ()) -> list[Finding]:
    return [f for rule in rules or RULES for f in rule(a)]


def of_batches(seen: BatchColumns, source: str, stuck: str | None = None) -> list[Finding]:
    """The same rules on the batches a training script fed (measure/batches.py): each model's inputs are
    features, each loss function's targets are targets. Missing values are left to the non-finite rules, which
    name the step where one reaches the loss (one the model masks is no fault). Severity follows consequence:
    a warning about the data is an error once the loss does not learn (`stuck`: why)."""
    out = []
    for stream in seen.inputs.values():
        found = check(Columns(stream.profile, source, features=stream.profile.dims()), BATCH_RULES)
        out += _read(found, stream)
    for stream in seen.targets.values():
        p = stream.profile
        out += _read(check(Columns(p, source, targets=p.dims(), target_columns=list(p.layouts)), BATCH_RULES), stream)
    for f in out:
        if stuck and f.severity == "warning":
            f.severity, f.observation = "error", f"{f.observation}; {stuck}"
    return out


def _read(found: list[Finding], stream: Stream) -> list[Finding]:
    """What the stream's profile was built from, in each finding's evidence."""
    for f in found:
        f.evidence.update(rows_profiled=stream.profile.rows, calls_read=stream.calls, batches_skipped=stream.skipped)
    return found


def _finite(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    return values[np.isfinite(values)]


def _robust(values: np.ndarray) -> tuple[float, float]:
    """Median and 1.4826 x the median absolute deviation (the standard deviation, for normal data)."""
    med = float(np.median(values))
    return med, 1.4826 * float(np.median(np.abs(values - med)))


def _at(p: Profile, columns: list[str]) -> dict:
    return {"split": p.name, "columns": columns[:LISTED]}


# ── one dimension at a time ─────────────────────────────────────────────────────────────────────

def constant_dims(a: Columns) -> list[Finding]:
    p, out = a.train, []
    for column, i, name in a.features + a.targets:
        m = p.moments[column]
        if not m.n[i]:
            continue
        magnitude = max(abs(m.min[i]), abs(m.max[i]))
        if m.max[i] == m.min[i]:
            out.append({"dim": name, "value": float(m.min[i]), "std": 0.0})
        elif m.std[i] <= NEAR_CONSTANT * magnitude:
            out.append({"dim": name, "value": float(m.mean[i]), "std": float(m.std[i])})
    if not out:
        return []
    names = [d["dim"] for d in out]
    exact = sum(d["std"] == 0 for d in out)
    # exactly constant: no information, and a scaler guards it (sklearn's sets the scale to 1); varying only at
    # float rounding: standardising blows the rounding noise up to unit scale, and no scaler guards that
    severity = "info" if exact == len(out) else "warning"
    return [finding("constant-feature", f"{len(out)} dimension(s) of {p.name} never change over its {p.rows} rows "
                    f"({exact} exactly constant, {len(out) - exact} only at float rounding): "
                    + ", ".join(f"`{d['dim']}` = {fmt(d['value'])}" + ("" if d["std"] == 0 else f" ± {d['std']:.1g}")
                                for d in out[:SHOWN])
                    + (f" and {len(out) - SHOWN} more" if len(out) > SHOWN else ""), a.source,
                    evidence={"dims": out[:LISTED]}, location=_at(p, names), severity=severity)]


def outliers(a: Columns) -> list[Finding]:
    p, out = a.train, []
    for column, i, name in a.features + a.targets:
        if p.layouts[column].pooled:
            continue
        hit = _outliers(p, column, i)
        if hit:
            out.append({"dim": name, **hit})
    if not out:
        return []
    return [finding("data-outliers", f"{len(out)} dimension(s) of {p.name} hold a few values far from the rest: "
                    + "; ".join(f"`{d['dim']}`: {d['count']} value(s) up to {fmt(d['worst'])} (robust z {d['z']:.0f}; "
                                f"median {fmt(d['median'])}, 98% of values in [{fmt(d['q01'])}, {fmt(d['q99'])}]) "
                                f"carry {d['ss_share']:.0%} of its variance" for d in out[:SHOWN]), a.source,
                    evidence={"dims": out[:LISTED], "rows": p.rows}, location=_at(p, [d["dim"] for d in out]))]


def _outliers(p: Profile, column: str, i: int) -> dict | None:
    sample = _finite(p.sampled(column, i))
    m, ext = p.moments[column], p.extremes[column]
    if len(sample) < 50 or not m.n[i]:
        return None
    med, scale = _robust(sample)
    if scale == 0:
        return None  # most values equal: a spike, judged as a sentinel or a constant
    high, low = _finite(ext.high[:, i]), _finite(ext.low[:, i])
    above = high[(high > med) & ((high - med) / scale >= OUTLIER_Z)]
    below = low[(low < med) & ((med - low) / scale >= OUTLIER_Z)]
    if len(above) >= EXTREMES or len(below) >= EXTREMES:
        return None  # more than the extremes kept: a tail, not a few values
    far = np.concatenate([above, below])
    if not len(far) or len(far) > max(1, int(np.ceil(OUTLIER_ROWS * m.n[i]))):
        return None
    share = float(((far - m.mean[i]) ** 2).sum() / m.m2[i]) if m.m2[i] > 0 else 0.0
    if share < OUTLIER_SS_SHARE:
        return None
    worst = float(far[np.argmax(np.abs(far - med))])
    q01, q99 = np.quantile(sample, [0.01, 0.99])
    return {"count": int(len(far)), "worst": worst, "z": abs(worst - med) / scale, "median": med, "robust_std": scale,
            "q01": float(q01), "q99": float(q99), "ss_share": share}


def sentinels(a: Columns) -> list[Finding]:
    p, out = a.train, []
    for column, i, name in a.features + a.targets:
        if p.layouts[column].pooled:
            continue
        hit = _sentinel(_finite(p.sampled(column, i)))
        if hit:
            out.append({"dim": name, **hit})
    if not out:
        return []
    return [finding("sentinel-values", f"{len(out)} dimension(s) of {p.name} have a spike at a value far from the "
                    "rest, the mark of a code for 'missing' or of padding: "
                    + "; ".join(f"`{d['dim']}` = {fmt(d['value'])} on {d['share']:.1%} of sampled rows, the rest has "
                                f"median {fmt(d['rest_median'])} (robust z {d['z']:.0f})" for d in out[:SHOWN]),
                    a.source, evidence={"dims": out[:LISTED]}, location=_at(p, [d["dim"] for d in out]))]


def _sentinel(sample: np.ndarray) -> dict | None:
    if len(sample) < LEAK_MIN_ROWS:
        return None
    values, counts = np.unique(sample, return_counts=True)
    for j in np.argsort(-counts, kind="stable"):
        share = counts[j] / len(sample)
        if share < SENTINEL_SHARE:
            break
        v, rest = values[j], sample[sample != values[j]]
        if len(np.unique(rest)) < SENTINEL_REST_DISTINCT:
            continue
        med, scale = _robust(rest)
        if scale == 0:  # the rest is mostly one value too (zero-inflated): its mean absolute deviation, scaled alike
            scale = 1.2533 * float(np.mean(np.abs(rest - med)))
        z = abs(v - med) / scale if scale > 0 else np.inf
        isolated = float(np.min(np.abs(rest - v))) >= scale  # a spike, not one value of a discrete tail
        negative_code = v < 0 <= rest.min()
        if (z >= SENTINEL_Z and isolated) or negative_code:
            return {"value": float(v), "share": float(share), "rest_median": med, "z": float(min(z, 1e9)),
                    "rest_min": float(rest.min()), "rest_max": float(rest.max())}
    return None


def missing(a: Columns) -> list[Finding]:
    out = []
    for p in [a.train, *a.evals]:
        cols = []
        for column, lay in p.layouts.items():
            if lay.kind == "text":
                n = p.text_missing[column]
                if n:
                    cols.append({"column": column, "missing": n, "share": n / p.rows})
                continue
            m = p.moments[column]
            n, inf = int(m.missing.sum()), int(m.infinite.sum())
            if n or inf:
                total = p.rows * len(lay.dims) if not lay.pooled else float(m.n.sum() + n + inf)
                entry = {"column": column, "missing": n, "infinite": inf, "share": (n + inf) / max(total, 1)}
                if column in p.not_numbers:
                    entry["text"] = p.not_numbers[column]
                cols.append(entry)
        if cols:
            out.append(finding("missing-values", f"{p.name}: {len(cols)} column(s) hold missing or infinite values: "
                               + "; ".join(_missing_text(c) for c in cols[:SHOWN]), a.source,
                               evidence={"columns": cols[:LISTED], "rows": p.rows},
                               location=_at(p, [c["column"] for c in cols])))
    return out  # one per split; triage folds them into one finding


def _missing_text(c: dict) -> str:
    parts = [f"{c['missing']} missing"] if c["missing"] else []
    if c.get("infinite"):
        parts.append(f"{c['infinite']} infinite")
    text = c.get("text")
    if text:
        parts.append(f"{text['count']} not numbers (e.g. {', '.join(repr(e) for e in text['examples'])})")
    return f"`{c['column']}` {', '.join(parts)} ({c['share']:.1%})"


def target_scale(a: Columns) -> list[Finding]:
    p = a.train
    dims = [(c, i, n) for c, i, n in a.targets if not p.layouts[c].pooled and not _is_classes(p, c)]
    stds = {n: float(p.moments[c].std[i]) for c, i, n in dims if p.moments[c].n[i] and p.moments[c].std[i] > 0}
    if len(stds) < 2:
        return []
    big, small = max(stds, key=stds.get), min(stds, key=stds.get)
    ratio = stds[big] / stds[small]
    if ratio < TARGET_SCALE_RATIO:
        return []
    # A dimension of integer codes (action tokens, bins) is usually trained as classes, where its spread in
    # code units is no scale at all: said, but not alarmed on, since it may as well be a count regressed.
    codes = [n for c, i, n in dims if n in (big, small) and _integer_codes(p, c, i)]
    text = (f"the target dimensions of {p.name} differ {ratio:.0f}x in standard deviation: `{big}` "
            f"{fmt(stds[big])}, `{small}` {fmt(stds[small])}; under an unweighted MSE the errors of `{small}` weigh "
            f"{ratio ** 2:.0g} times less")
    if codes:
        text += f" (`{codes[0]}` holds integer codes: if it is predicted as classes, its scale does not matter)"
    return [finding("target-scale-mismatch", text, a.source, evidence={"std": stds, "ratio": ratio, "codes": codes},
                    location=_at(p, [big, small]), severity="info" if codes else None)]


def _integer_codes(p: Profile, column: str, i: int) -> bool:
    counts = p.counts[column][i].counts
    return bool(counts) and len(counts) > 2 and all(isinstance(k, (int, float)) and float(k).is_integer()
                                                    for k in counts)


# ── labels ──────────────────────────────────────────────────────────────────────────────────────

def _is_classes(p: Profile, column: str) -> bool:
    lay = p.layouts.get(column)
    if lay is None or len(lay.dims) != 1 or lay.pooled:
        return False
    counts = p.counts[column][0].counts
    if lay.kind == "text":
        return counts is not None
    # a few integer values, each seen RARE_CLASS_COUNT times on average: labels, not a small regression sample
    return (counts is not None and 2 <= len(counts) <= CLASSES_MAX and all(float(k).is_integer() for k in counts)
            and sum(counts.values()) >= RARE_CLASS_COUNT * len(counts))


def class_balance(a: Columns) -> list[Finding]:
    out = []
    for column in a.target_columns:
        if not _is_classes(a.train, column):
            continue
        counts = a.train.counts[column][0].counts
        total = sum(counts.values())
        top = max(counts, key=counts.get)
        if total >= CLASS_MIN_LABELS and counts[top] / total >= CLASS_MAJORITY:
            out.append(finding("class-imbalance", f"`{column}`: class {_label(top)} holds {counts[top] / total:.1%} of "
                               f"the {total} training labels; the other {len(counts) - 1} class(es) share the rest",
                               a.source, evidence={"column": column, "counts": _labelled(counts)},
                               location=_at(a.train, [column])))
        out += _rare(a, column, counts)
    return out


def _rare(a: Columns, column: str, counts: dict) -> list[Finding]:
    rare = {k: v for k, v in counts.items() if v < RARE_CLASS_COUNT}
    unseen: dict = {}
    for p in a.evals:
        theirs = p.counts.get(column, [None])[0]
        if theirs is not None and theirs.counts is not None:
            unseen.update({k: v for k, v in theirs.counts.items() if k not in counts})
    if not rare and not unseen:
        return []
    parts = []
    if rare:
        parts.append(f"{len(rare)} class(es) have fewer than {RARE_CLASS_COUNT} training samples: "
                     + ", ".join(f"{_label(k)} ({v})" for k, v in sorted(rare.items(), key=lambda kv: kv[1])[:SHOWN]))
    if unseen:
        parts.append(f"{len(unseen)} class(es) of the evaluation split(s) never occur in training: "
                     + ", ".join(_label(k) for k in list(unseen)[:SHOWN]))
    return [finding("rare-classes", f"`{column}`: " + "; ".join(parts), a.source,
                    evidence={"column": column, "rare": _labelled(rare), "unseen_in_train": _labelled(unseen)},
                    location=_at(a.train, [column]))]


def _label(k) -> str:
    return str(int(k)) if isinstance(k, float) and k.is_integer() else repr(k) if isinstance(k, str) else str(k)


def _labelled(counts: dict) -> dict[str, int]:
    return {_label(k): int(v) for k, v in counts.items()}


RULES = (constant_dims, outliers, sentinels, missing, target_scale, class_balance)
BATCH_RULES = tuple(rule for rule in RULES if rule is not missing)
