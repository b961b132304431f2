"""Lint speed over a large corpus, against bare `ast.parse` of the same files in the same run.

    python bench/lint_speed.py [PATH]        (default: the installed torch package's Python files)
    python bench/lint_speed.py --generated   (one generated file with a finding every 3.5 lines, 0.3 to 5 MB)

Prints lines per second for both and the ratio (lint time / parse time; the target is <= 2x).
Files are read into memory first, so disk time counts in neither (a sibling module a file imports is
read by lint itself, afresh in each pass, as in one `traindoctor lint` run). torch is located, not
imported: `traindoctor lint` does not import it, and a million objects of an imported torch make each
of Python's full garbage collections — which lint, allocating more, triggers more often — several
times longer than in a real run. `--generated` shows how lint
time grows with the number of findings: linear work keeps the lint/parse ratio flat as the file grows.
"""

from __future__ import annotations

import ast
import sys
import time
from pathlib import Path

from traindoctor.lint.engine import Config, Source, lint_source
from traindoctor.lint.flow import forget

HEAD = ("import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\nimport jax\n"
        "crit = nn.CrossEntropyLoss()\nmodel = nn.Sequential(nn.Linear(4, 3), nn.Dropout(0.1))\n"
        "optimizer = torch.optim.SGD(model.parameters(), lr=0.1)\n")
# Each block is a different shape of work a rule does per finding: module-level training loops
# (loop bodies, zero_grad order), names reassigned many times (the last value before a use), no_grad
# evaluation blocks, suppressed lines, JAX keys, helpers that reset gradients.
BLOCK = """for x, y in loader{i}:
    out = model(x)
    loss = F.cross_entropy(torch.softmax(out, 1), y)
    loss.backward()
    optimizer.zero_grad()
    optimizer.step()
    ckpt = torch.load(path)
with torch.no_grad():
    model(x{i})
def step{i}(model, x, y, optimizer, key):
    a = jax.random.normal(key, (2,))
    b = jax.random.normal(key, (2,))
    for a, b in loader:
        loss = crit(model(a), b)  # traindoctor: ignore[double-softmax]
        loss.backward()
        reset{i}()
        optimizer.step()
    return torch.load(p, weights_only=False)
def reset{i}():
    optimizer.zero_grad()
"""


def many_findings(n: int) -> str:
    """A module of `n` blocks, 6 findings, 21 lines and 600 bytes each (n=8,320 is 5 MB)."""
    return HEAD + "".join(BLOCK.format(i=i) for i in range(n))


def timed(sources: list[Source], config: Config) -> tuple[float, float, int]:
    best_parse = best_lint = float("inf")
    findings = 0
    for _ in range(3):  # best of 3 for each, alternating
        t = time.perf_counter()
        for s in sources:
            ast.parse(s.text, filename=s.path)
        best_parse = min(best_parse, time.perf_counter() - t)
        forget()  # a new run: sibling modules are read again
        t = time.perf_counter()
        findings = sum(len(lint_source(s, config)) for s in sources)
        best_lint = min(best_lint, time.perf_counter() - t)
    return best_parse, best_lint, findings


def generated() -> None:
    print(f"{'blocks':>7} {'MB':>6} {'findings':>9} {'parse s':>8} {'lint s':>8} {'lint/parse':>10}")
    for n in (520, 1040, 2080, 4160, 8320):
        text = many_findings(n)
        parse, lint, findings = timed([Source("generated.py", text)], Config())
        print(f"{n:>7} {len(text) / 1e6:>6.2f} {findings:>9} {parse:>8.2f} {lint:>8.2f} {lint / parse:>9.2f}x")


def corpus(root: Path) -> None:
    sources = []
    for path in sorted(root.rglob("*.py")):
        try:
            text = path.read_text(encoding="utf-8")
            ast.parse(text)
        except (UnicodeDecodeError, SyntaxError, ValueError):
            continue
        sources.append(Source(str(path), text))
    lines = sum(s.text.count("\n") for s in sources)
    best_parse, best_lint, findings = timed(sources, Config())
    print(f"corpus: {root} — {len(sources)} files, {lines:,} lines; {findings} findings")
    print(f"ast.parse only : {best_parse:7.2f} s  {lines / best_parse:>12,.0f} lines/s")
    print(f"traindoctor lint: {best_lint:7.2f} s  {lines / best_lint:>12,.0f} lines/s")
    print(f"ratio lint / parse: {best_lint / best_parse:.2f}x")


def main() -> None:
    if sys.argv[1:] == ["--generated"]:
        return generated()
    if len(sys.argv) > 1:
        return corpus(Path(sys.argv[1]))
    import importlib.util

    corpus(Path(importlib.util.find_spec("torch").origin).parent)


if __name__ == "__main__":
    main()
