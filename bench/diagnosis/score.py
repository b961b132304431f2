"""Score `traindoctor run` on the diagnosis benchmark: is the root cause the first warning or error?

Each case runs in its own process as a user runs it (`python -m traindoctor run --format json
CASE`, default budget), with a per-case timeout. Printed per split and category: broken programs
whose first warning/error is an accepted code ("first"), that name one anywhere ("anywhere"), that
got no warning or error at all ("silent"); healthy programs with any warning or error ("false
alarms"); and the median and maximum time to diagnosis.

    python bench/diagnosis/score.py                 # every split (dev, test, blind, blind2, blind3, blind4)
    python bench/diagnosis/score.py --split dev -k lm --show
    python bench/diagnosis/score.py --json results.json
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
CASES = HERE / "cases"
HEADER = re.compile(r"^#\s*(source|expect|category|bug):\s*(.+?)\s*$")
SERIOUS = ("error", "warning")


@dataclass
class Case:
    path: Path
    split: str
    source: str
    expect: list[str]
    category: str
    bug: str

    @property
    def healthy(self) -> bool:
        return self.expect == ["healthy"]


@dataclass
class Result:
    case: str
    split: str
    category: str
    healthy: bool
    expect: list[str]
    codes: list[str] = field(default_factory=list)  # warnings and errors, in the report's order
    infos: list[str] = field(default_factory=list)
    exit: int | None = None
    seconds: float = 0.0
    problem: str = ""  # the tool crashed, timed out or printed no JSON

    @property
    def first(self) -> bool:
        return bool(self.codes) and self.codes[0] in self.expect

    @property
    def anywhere(self) -> bool:
        return any(c in self.expect for c in self.codes + self.infos)

    @property
    def silent(self) -> bool:
        return not self.codes


def load(split: str, pattern: str | None) -> list[Case]:
    cases = []
    for folder in ([CASES / split] if split != "all" else sorted(p for p in CASES.iterdir() if p.is_dir())):
        for path in sorted(folder.glob("*.py")):
            meta: dict[str, str] = {}
            for line in path.read_text().splitlines()[:12]:
                m = HEADER.match(line)
                if m:
                    meta[m.group(1)] = m.group(2)
            missing = {"source", "expect", "category", "bug"} - set(meta)
            if missing:
                sys.exit(f"{path}: missing header line(s) {', '.join(sorted(missing))} (see bench/diagnosis/README.md)")
            case = Case(path, folder.name, meta["source"], [c.strip() for c in meta["expect"].split(",")],
                        meta["category"], meta["bug"])
            if pattern is None or pattern in path.stem or pattern == case.category:
                cases.append(case)
    return cases


def run(case: Case, timeout: float) -> Result:
    result = Result(case.path.stem, case.split, case.category, case.healthy, case.expect)
    started = time.monotonic()
    try:
        done = subprocess.run([sys.executable, "-m", "traindoctor", "run", "--format", "json", str(case.path)],
                              capture_output=True, text=True, timeout=timeout, cwd=case.path.parent)
    except subprocess.TimeoutExpired:
        result.problem, result.seconds = f"timed out after {timeout:.0f} s", timeout
        return result
    result.seconds = round(time.monotonic() - started, 2)
    result.exit = done.returncode
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        result.problem = f"no JSON report (exit {done.returncode}): {done.stderr.strip().splitlines()[-1:]}"
        return result
    result.codes = [f["code"] for f in report["findings"] if f["severity"] in SERIOUS]
    result.infos = [f["code"] for f in report["findings"] if f["severity"] not in SERIOUS]
    return result


def table(results: list[Result]) -> str:
    rows = ["| split | category | broken | first | anywhere | silent | healthy | false alarms | median s | max s |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    groups: dict[tuple[str, str], list[Result]] = {}
    for r in results:
        groups.setdefault((r.split, r.category), []).append(r)
        groups.setdefault((r.split, "all"), []).append(r)
    for (split, category), rs in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1] == "all", kv[0][1])):
        broken = [r for r in rs if not r.healthy]
        healthy = [r for r in rs if r.healthy]
        times = [r.seconds for r in rs]
        name = f"**{category}**" if category == "all" else category
        rows.append(f"| {split} | {name} | {len(broken)} | {sum(r.first for r in broken)} | "
                    f"{sum(r.anywhere for r in broken)} | {sum(r.silent for r in broken)} | {len(healthy)} | "
                    f"{sum(bool(r.codes) for r in healthy)} | {statistics.median(times):.1f} | {max(times):.1f} |")
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--split", default="all", help="dev, test, blind, blind2, blind3, blind4 or all (default)")
    ap.add_argument("-k", dest="pattern", help="only cases whose file name contains this, or of this category")
    ap.add_argument("--healthy", action="store_true", help="only the healthy programs: the false-alarm check")
    ap.add_argument("--timeout", type=float, default=180.0, help="seconds per case before it counts as a timeout")
    ap.add_argument("--show", action="store_true", help="one line per case: expected and reported codes")
    ap.add_argument("--json", type=Path, help="write every case's result here")
    args = ap.parse_args()
    cases = [c for c in load(args.split, args.pattern) if c.healthy or not args.healthy]
    if not cases:
        sys.exit(f"no case matches (split {args.split}, -k {args.pattern})")
    results = []
    for i, case in enumerate(cases, 1):
        r = run(case, args.timeout)
        results.append(r)
        verdict = ("ok" if not r.codes else "FALSE ALARM") if r.healthy else \
            ("first" if r.first else "anywhere" if r.anywhere else "silent" if r.silent else "missed")
        print(f"[{i}/{len(cases)}] {r.split}/{r.case}: {verdict} ({r.seconds:.1f} s){' — ' + r.problem if r.problem else ''}",
              file=sys.stderr)
        if args.show:
            print(f"    expect {', '.join(r.expect)}; got {', '.join(r.codes) or '-'}"
                  + (f" (info: {', '.join(r.infos)})" if r.infos else ""), file=sys.stderr)
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps([asdict(r) | {"first": r.first, "anywhere": r.anywhere} for r in results], indent=1))


if __name__ == "__main__":
    main()
