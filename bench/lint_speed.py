"""Lint speed over a large corpus, against bare `ast.parse` of the same files in the same run.

    python bench/lint_speed.py [PATH]      (default: the installed torch package's Python files)

Prints lines per second for both and the ratio (lint time / parse time; the target is <= 2x).
Files are read into memory first, so disk time counts in neither.
"""

from __future__ import annotations

import ast
import sys
import time
from pathlib import Path

import torch

from traindoctor.lint.engine import Config, Source, lint_source


def main() -> None:
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(torch.__file__).parent
    sources = []
    for path in sorted(root.rglob("*.py")):
        try:
            text = path.read_text(encoding="utf-8")
            ast.parse(text)
        except (UnicodeDecodeError, SyntaxError, ValueError):
            continue
        sources.append(Source(str(path), text))
    lines = sum(s.text.count("\n") for s in sources)
    config = Config()
    best_parse = best_lint = float("inf")
    for _ in range(3):  # best of 3 for each, alternating
        t = time.perf_counter()
        for s in sources:
            ast.parse(s.text, filename=s.path)
        best_parse = min(best_parse, time.perf_counter() - t)
        t = time.perf_counter()
        findings = 0
        for s in sources:
            findings += len(lint_source(s, config))
        best_lint = min(best_lint, time.perf_counter() - t)
    print(f"corpus: {root} — {len(sources)} files, {lines:,} lines; {findings} findings")
    print(f"ast.parse only : {best_parse:7.2f} s  {lines / best_parse:>12,.0f} lines/s")
    print(f"traindoctor lint: {best_lint:7.2f} s  {lines / best_lint:>12,.0f} lines/s")
    print(f"ratio lint / parse: {best_lint / best_parse:.2f}x")


if __name__ == "__main__":
    main()
