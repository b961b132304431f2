"""Record the loss curves of the bundled examples as CSV files, for the real part of the curves
validation set (bench/curves_validation.py reads them with bench/real_curves/labels.json).

Each example runs to completion under `traindoctor run` (observe-only: its losses are its own);
the loss of every recorded step (every step of the first 20, then every 4th) is written to
bench/real_curves/<example>.csv — what a script that logs every few steps would leave behind.
The labels were given by looking at the curves, not by the classifier; labels.json also lists
the examples left out and why (all-NaN losses, too few steps).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from traindoctor import run_script

ROOT = Path(__file__).resolve().parent.parent
OUT = Path(__file__).resolve().parent / "real_curves"


def main() -> None:
    OUT.mkdir(exist_ok=True)
    excluded = json.loads((OUT / "labels.json").read_text())["_excluded"]  # with the reason for each
    for script in sorted((ROOT / "examples").glob("*.py")):
        if script.stem == "toydata" or script.stem in excluded:
            continue
        report = run_script(script, max_steps=0, probes=False)
        rows = [(r["optimizer_step"], r["loss"]) for r in report.sections["run"]["steps_record"]
                if r.get("optimizer", 0) == 0 and r.get("loss") is not None]
        if len(rows) < 20:
            print(f"{script.stem}: {len(rows)} recorded losses, too few for a curve; skipped")
            continue
        with open(OUT / f"{script.stem}.csv", "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["step", "loss"])
            writer.writerows(rows)  # a non-finite loss is written as nan/inf, as loggers write it
        print(f"{script.stem}: {len(rows)} points")


if __name__ == "__main__":
    main()
