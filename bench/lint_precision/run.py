"""Lint a local corpus of real training code and print every warning and error for hand-checking.

    python bench/lint_precision/run.py [PATH ...]

Default corpus (read where it lies, never copied into the repository): the example scripts under
/tmp/realcode, the public repositories fetched into /tmp/lintcorpus (nanoGPT, minGPT, pytorch/examples,
pytorch-image-models), and the installed torch package. Prints, per corpus root, the files and lines
linted and the findings by code and severity, then each warning/error with its line of source and
three lines of context, so each can be judged true or false by reading it.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

from traindoctor.lint.engine import Config, discover, lint_source, read

REALCODE = ["nanogpt", "mingpt", "dcgan", "mnist", "mnist_rnn", "vae", "word_language_model", "regression",
            "reinforcement_learning", "time_sequence_prediction", "lightning_gan", "hf_trainer"]


def default_roots() -> list[Path]:
    import torch

    roots = [Path("/tmp/realcode") / name for name in REALCODE] + [Path("/tmp/lintcorpus"), Path(torch.__file__).parent]
    return [r for r in roots if r.exists()]


def lint_root(root: Path) -> tuple[int, int, list]:
    files, _ = discover([root])
    lines, serious = 0, []
    for path in files:
        try:
            source = read(path)
            found = lint_source(source, Config())
        except (SyntaxError, ValueError, OSError, RecursionError):
            continue
        lines += source.text.count("\n")
        serious += [(source, f) for f in found if f.severity != "info"]
        counts.update((f.code, f.severity) for f in found)
    return len(files), lines, serious


def show(source, f) -> None:
    text = source.text.splitlines()
    line = f.location["line"] if "cell" not in f.location else None
    print(f"\n{f.location.get('file')}:{f.location.get('line')}: {f.severity} {f.code}: {f.observation}")
    if line:
        for n in range(max(1, line - 3), min(len(text), line + 1) + 1):
            print(f"  {'>' if n == line else ' '}{n:5} {text[n - 1]}")


counts: Counter = Counter()


def main() -> None:
    roots = [Path(p) for p in sys.argv[1:]] or default_roots()
    total_files = total_lines = 0
    for root in roots:
        files, lines, serious = lint_root(root)
        total_files, total_lines = total_files + files, total_lines + lines
        print(f"== {root}: {files} files, {lines:,} lines, {len(serious)} warnings/errors")
        for source, f in serious:
            show(source, f)
    print(f"\nTOTAL {total_files} files, {total_lines:,} lines")
    for (code, severity), n in sorted(counts.items()):
        print(f"  {code} ({severity}): {n}")


if __name__ == "__main__":
    main()
