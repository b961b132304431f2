"""docs/thresholds.md from judge/thresholds.py: every constant with the comment above it (its source).

`python -m traindoctor.judge.docs > docs/thresholds.md`; a test keeps the file in sync.
"""

from __future__ import annotations

import ast
import io
import tokenize
from pathlib import Path

from . import thresholds

SOURCE = Path(thresholds.__file__)


def _comments(text: str) -> dict[int, str]:
    return {tok.start[0]: tok.string.lstrip("#").strip()
            for tok in tokenize.generate_tokens(io.StringIO(text).readline) if tok.type == tokenize.COMMENT}


def sections() -> list[tuple[str, str, list[tuple[list[tuple[str, str]], str]]]]:
    """[(section title, its introduction, [([(name, value)], source comment)])] in file order. A
    section starts at a `# ── title ──` line (its introduction: the comment lines right below it);
    constants under one comment block share it."""
    text = SOURCE.read_text()
    comments, lines = _comments(text), text.splitlines()
    out: list[tuple[str, str, list]] = []
    for row, c in sorted(comments.items()):
        if c.startswith("──"):
            intro, i = [], row + 1
            while i in comments and lines[i - 1].lstrip().startswith("#"):
                intro.append(comments[i])
                i += 1
            out.append((c.strip("─ ").strip(), " ".join(intro), []))
    for node in ast.parse(text).body:
        if not isinstance(node, ast.Assign) or not out:
            continue
        row = node.lineno
        above, i = [], row - 1
        while i in comments and lines[i - 1].lstrip().startswith("#") and not comments[i].startswith("──"):
            above.insert(0, comments[i])
            i -= 1
        entries = next(e for t, _, e in reversed(out) if _header_row(comments, t) < row)
        pair = (node.targets[0].id, ast.get_source_segment(text, node.value))
        if above or not entries:
            entries.append(([pair], " ".join(above)))
        else:
            entries[-1][0].append(pair)
    return out


def _header_row(comments: dict[int, str], title: str) -> int:
    return next(r for r, c in comments.items() if c.startswith("──") and c.strip("─ ").strip() == title)


def render() -> str:
    parts = ["# Thresholds", "",
             "Every number a rule decides with, and where it comes from. Generated from "
             "`src/traindoctor/judge/thresholds.py` by `python -m traindoctor.judge.docs`; do not edit.", ""]
    for title, intro, entries in sections():
        parts += [f"## {title}", ""] + ([intro, ""] if intro else [])
        parts += ["- " + ", ".join(f"`{n} = {v}`" for n, v in names) + (f" — {comment}" if comment else "")
                  for names, comment in entries]
        parts.append("")
    return "\n".join(parts)


if __name__ == "__main__":
    print(render(), end="")
