"""Confusion matrix of `traindoctor curves` on labeled synthetic curves (bench/curvegen.py), then
the real curves recorded from the bundled examples (bench/real_curves/, labeled by eye).

Thresholds were set while looking at seed 1 only; this script scores held-out seeds. A curve's
prediction is its label when that code fires, else the first code that fired, else "healthy".
Prints markdown tables: the confusion matrix (rows: true family, columns: prediction), per-class
precision/recall, and one row per real curve.

    python bench/curves_validation.py [--per-family 50] [--seed 2]
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from curvegen import FAMILIES, family  # noqa: E402

from traindoctor.curves import analyze
from traindoctor.judge.series import Series
from traindoctor.judge.series import loss_events, metric_events, pair_events


def predict(curves: dict[str, Series]) -> set[str]:
    events = []
    for name in ("train_loss", "val_loss"):
        if name in curves:
            events += loss_events(name, curves[name])
    if "val_loss" in curves:
        events += pair_events("train_loss", curves["train_loss"], "val_loss", curves["val_loss"])
    if "val_acc" in curves:
        events += metric_events("train_loss", curves["train_loss"], "val_acc", curves["val_acc"])
    return {e.code for e in events}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-family", type=int, default=50)
    parser.add_argument("--seed", type=int, default=2)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    confusion: collections.Counter = collections.Counter()
    for fam in FAMILIES:
        for _ in range(args.per_family):
            label, raw = family(fam, rng)
            codes = predict({k: Series.of(*v) for k, v in raw.items()})
            confusion[label, label if label in codes else (sorted(codes)[0] if codes else "healthy")] += 1
    short = {f: f.replace("loss-", "") for f in FAMILIES}
    print("| true \\ predicted | " + " | ".join(short[f] for f in FAMILIES) + " |")
    print("|---" * (len(FAMILIES) + 1) + "|")
    for t in FAMILIES:
        print(f"| {t} | " + " | ".join(str(confusion[t, p]) for p in FAMILIES) + " |")
    print("\n| class | precision | recall |\n|---|---:|---:|")
    for c in FAMILIES:
        predicted = sum(confusion[t, c] for t in FAMILIES)
        prec = confusion[c, c] / predicted if predicted else float("nan")
        print(f"| {c} | {prec:.2f} | {confusion[c, c] / args.per_family:.2f} |")
    real()


def real() -> None:
    folder = Path(__file__).resolve().parent / "real_curves"
    labels = {k: v for k, v in json.loads((folder / "labels.json").read_text()).items() if not k.startswith("_")}
    print("\n| example | label (by eye) | traindoctor curves | |\n|---|---|---|---|")
    right = 0
    for name, entry in sorted(labels.items()):
        codes = {f.code for f in analyze(folder / f"{name}.csv").findings}
        predicted = entry["label"] if entry["label"] in codes else (sorted(codes)[0] if codes else "healthy")
        right += predicted == entry["label"]
        print(f"| {name} | {entry['label']} | {', '.join(sorted(codes)) or 'silent'} | {'✓' if predicted == entry['label'] else '✗'} |")
    print(f"\n{right} of {len(labels)} real curves classified as labeled")


if __name__ == "__main__":
    main()
