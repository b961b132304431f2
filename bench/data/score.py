"""Score `traindoctor data` on planted data faults: is the planted fault the first warning or error?

Cases live in cases/dev.py (tune on these), cases/test.py (held out; looked at once) and cases/holdout.py
(a second held-out set, written before the checks it scores were changed). Each builds a
dataset with one planted fault, or a healthy look-alike, through the generators of synth.py (driving logs
from a kinematic bicycle model, robot demonstrations from scripted policies, tables). Printed per split
and domain: broken datasets whose first warning/error is the expected code ("first"), that name it
anywhere ("anywhere"), that got no warning or error at all ("silent"); healthy datasets with any
warning or error ("false alarms").

    python bench/data/score.py                       # every split
    python bench/data/score.py --split dev -k robot --show
"""

from __future__ import annotations

import argparse
import importlib
import sys
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
SERIOUS = ("error", "warning")


@dataclass
class Result:
    name: str
    split: str
    domain: str
    healthy: bool
    expect: list[str]
    codes: list[str] = field(default_factory=list)  # warnings and errors, in the report's order
    infos: list[str] = field(default_factory=list)
    problem: str = ""

    @property
    def first(self) -> bool:
        return not self.healthy and bool(self.codes) and self.codes[0] in self.expect

    @property
    def anywhere(self) -> bool:
        return not self.healthy and any(c in self.expect for c in self.codes)


def load(split: str, pattern: str | None = None):
    sys.path[:0] = [str(HERE), str(HERE / "cases")]
    import registry

    start = len(registry.CASES)
    importlib.import_module(split)
    cases = registry.CASES[start:]
    for c in cases:
        c.split = split
    return [c for c in cases if not pattern or pattern in c.name]


def run(case) -> Result:
    from traindoctor.data import audit_data

    result = Result(case.name, case.split, case.domain, case.healthy, case.expect)
    try:
        report = audit_data(domain=case.domain, **case.make())
    except Exception as exc:  # a crash is scored as a problem, not hidden
        result.problem = f"{type(exc).__name__}: {exc}"
        return result
    result.codes = [f.code for f in report.findings if f.severity in SERIOUS]
    result.infos = [f.code for f in report.findings if f.severity not in SERIOUS]
    return result


def table(results: list[Result]) -> str:
    rows = ["| split | domain | broken | first | anywhere | silent | healthy | false alarms |", "|" + "---|" * 8]
    for split in sorted({r.split for r in results}):
        for domain in sorted({r.domain for r in results if r.split == split}) + ["all"]:
            rs = [r for r in results if r.split == split and (domain == "all" or r.domain == domain)]
            broken, healthy = [r for r in rs if not r.healthy], [r for r in rs if r.healthy]
            rows.append(f"| {split} | {domain} | {len(broken)} | {sum(r.first for r in broken)} | "
                        f"{sum(r.anywhere for r in broken)} | {sum(not r.codes for r in broken)} | {len(healthy)} | "
                        f"{sum(bool(r.codes) for r in healthy)} |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", choices=["dev", "test", "holdout"], action="append")
    parser.add_argument("-k", help="only cases whose name contains this")
    parser.add_argument("--show", action="store_true", help="print every case's codes")
    args = parser.parse_args()
    results = []
    for split in args.split or ["dev", "test", "holdout"]:
        for c in load(split, args.k):
            r = run(c)
            results.append(r)
            if args.show or r.problem or (r.healthy and r.codes) or (not r.healthy and not r.first):
                verdict = ("PROBLEM " + r.problem if r.problem else
                           ("false alarm" if r.codes else "ok") if r.healthy else
                           "first" if r.first else "anywhere" if r.anywhere else "silent" if not r.codes else "missed")
                print(f"{r.split:4} {r.name:32} expect {','.join(r.expect):28} {verdict:12} {r.codes} info {r.infos}")
    print(table(results))
    broken = [r for r in results if not r.healthy]
    if broken:
        print(f"named first: {sum(r.first for r in broken)}/{len(broken)} "
              f"({sum(r.first for r in broken) / len(broken):.0%}); false alarms: "
              f"{sum(bool(r.codes) for r in results if r.healthy)}/{sum(r.healthy for r in results)} healthy")


if __name__ == "__main__":
    main()
