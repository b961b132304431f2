"""Label noise: rows whose label the rest of the data contradicts.

With a model's out-of-sample class probabilities (`probs`): confident learning — cleanlab's
`find_label_issues` when installed (the `cleanlab` extra), otherwise the same confident joint computed
here (a row is an issue when the model's probability for another class reaches that class's threshold,
the mean self-confidence of the rows labelled with it, and exceeds the probability of the given label).
Without probabilities: a cheap estimate, said as such — a row whose nearest neighbours, on the
standardised numeric features, carry one other label at LABEL_NOISE_AGREE or more. Both on at most
LABEL_NOISE_CAP rows of the uniform sample, picked evenly: deterministic.
"""

from __future__ import annotations

import numpy as np

from ..judge.thresholds import (
    LABEL_NOISE_AGREE, LABEL_NOISE_CAP, LABEL_NOISE_K, LABEL_NOISE_MIN_ROWS, LABEL_NOISE_SHARE,
)
from ..vocabulary.finding import Finding, finding
from .audit import Audit
from ..judge.columns import _is_classes
from ..measure.profile import Profile

SOURCE = "data"
LISTED = 20  # suspect rows named in the evidence


def label_noise(a: Audit) -> list[Finding]:
    column = next((c for c in a.roles.target if _classes(a.train, c)), None)
    if column is None:
        return []
    out = []
    for p in [a.train, *a.evals]:
        result = _judge(a, p, column)
        if result is None:
            continue
        a.tables.setdefault("label_noise", {})[p.name] = {k: v for k, v in result.items() if k != "suspects"}
        if result["share"] >= LABEL_NOISE_SHARE and result["count"] >= LABEL_NOISE_MIN_ROWS:
            out.append(_finding(p, column, result))
    return out


def _classes(p: Profile, column: str) -> bool:

    return _is_classes(p, column)


def _judge(a: Audit, p: Profile, column: str) -> dict | None:
    labels = p.sampled(column)
    rows = _rows(len(labels))
    if len(rows) < 2 * LABEL_NOISE_K:
        return None
    known = np.array([v is not None and v == v and v != "" for v in labels[rows]])
    rows = rows[known]
    names, y = _codes(labels[rows])
    if y.max() < 1:
        return None
    probs = _probs(a, p, rows)
    if probs is not None:
        suspects, method = _confident_learning(y, probs, names)
    else:
        x = _features(a, p, rows)
        if x is None:
            return None
        suspects, method = _neighbours(x, y), "k-NN disagreement (an estimate: no model probabilities given)"
    ids = _ids(a, p, rows[suspects])
    return {"method": method, "judged": int(len(rows)), "count": int(suspects.sum()),
            "share": float(suspects.mean()), "suspects": ids}


def _codes(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the classes in sorted order — numbers by value, text alphabetically —, each label's class index)."""
    if labels.dtype != object:
        return np.unique(labels.reshape(-1), return_inverse=True)
    return np.unique(np.asarray([str(v) for v in labels], dtype=object), return_inverse=True)


def _rows(n: int) -> np.ndarray:
    """At most LABEL_NOISE_CAP rows of the sample, spread evenly over it."""
    return np.arange(n) if n <= LABEL_NOISE_CAP else np.unique(np.linspace(0, n - 1, LABEL_NOISE_CAP).astype(int))


def _features(a: Audit, p: Profile, rows: np.ndarray) -> np.ndarray | None:
    """The numeric features of the rows, each centred on its median and divided by its spread (robust, then the
    std); missing values at the centre; constant dimensions dropped."""
    cols = []
    for column, i, _ in a.features(p):
        if p.layouts[column].kind != "number":
            continue
        x = np.asarray(p.sampled(column, i)[rows], dtype=float)
        finite = np.isfinite(x)
        if finite.mean() < 0.5:
            continue
        med = np.median(x[finite])
        spread = 1.4826 * np.median(np.abs(x[finite] - med)) or np.std(x[finite])
        if spread > 0:
            cols.append(np.where(finite, (x - med) / spread, 0.0))
    return np.stack(cols, 1) if cols else None


def _neighbours(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Rows whose LABEL_NOISE_K nearest neighbours carry one other label at LABEL_NOISE_AGREE or more."""
    from scipy.spatial import cKDTree

    _, idx = cKDTree(x).query(x, k=LABEL_NOISE_K + 1)
    n = len(y)
    # drop each row itself (first, unless an exact duplicate came first)
    own = idx == np.arange(n)[:, None]
    drop = np.where(own.any(1), own.argmax(1), LABEL_NOISE_K)
    keep = np.ones_like(idx, dtype=bool)
    keep[np.arange(n), drop] = False
    neighbours = y[idx[keep].reshape(n, LABEL_NOISE_K)]
    counts = np.stack([(neighbours == c).sum(1) for c in range(y.max() + 1)], 1)
    counts[np.arange(n), y] = 0
    return counts.max(1) >= LABEL_NOISE_AGREE * LABEL_NOISE_K


def _probs(a: Audit, p: Profile, rows: np.ndarray) -> np.ndarray | None:
    columns = a.evaluation.probs
    if not columns or any(c not in p.layouts for c in columns):
        return None
    parts = [np.asarray(p.sample.rows[c], dtype=float).reshape(len(p.sample.rows[c]), -1)[rows] for c in columns]
    return np.concatenate(parts, 1)


def _confident_learning(y: np.ndarray, probs: np.ndarray, names: np.ndarray) -> tuple[np.ndarray, str]:
    """Label issues by confident learning. The probability columns are the classes in sorted order of their
    labels (as the labels' own sorting gives them)."""
    if probs.shape[1] != y.max() + 1:
        from .sources import DataError

        raise DataError(f"the probabilities have {probs.shape[1]} columns but the labels {y.max() + 1} classes "
                        f"({', '.join(map(str, names[:10]))}); give one column per class, in sorted label order")
    probs = np.nan_to_num(probs, nan=0.0)
    try:
        from cleanlab.filter import find_label_issues
    except ImportError:
        return _confident_joint(y, probs), "confident learning (traindoctor's own; cleanlab not installed)"
    return np.asarray(find_label_issues(y, probs), dtype=bool), "confident learning (cleanlab)"


def _confident_joint(y: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Rows the model confidently puts in another class: a probability for a class j != label at or above j's
    threshold (the mean probability of j over rows labelled j), the largest such, and above the label's own."""
    classes = probs.shape[1]
    thresholds = np.array([probs[y == j, j].mean() if (y == j).any() else 1.0 for j in range(classes)])
    above = probs >= thresholds[None, :]
    above[np.arange(len(y)), y] = False
    confident = np.where(above, probs, -1.0)
    other = confident.argmax(1)
    return (confident.max(1) >= 0) & (probs[np.arange(len(y)), other] > probs[np.arange(len(y)), y])


def _ids(a: Audit, p: Profile, rows: np.ndarray) -> list:
    """The suspects by their id column's values (none without an id column: sampled rows have no file position)."""
    if a.roles.ids and a.roles.ids[0] in p.sample.rows:
        return [_plain(v) for v in p.sample.rows[a.roles.ids[0]][rows[:LISTED]].reshape(-1)]
    return []


def _plain(v):
    return v.item() if hasattr(v, "item") else v


def _finding(p: Profile, column: str, r: dict) -> Finding:
    named = f"; ids {', '.join(map(str, r['suspects'][:5]))}" if r["suspects"] else ""
    return finding("label-noise", f"{r['count']} of {r['judged']} sampled rows of {p.name} ({r['share']:.1%}) carry a "
                   f"`{column}` label the rest of the data contradicts, by {r['method']}{named}", SOURCE,
                   evidence={k: v for k, v in r.items()}, location={"split": p.name, "columns": [column]})
