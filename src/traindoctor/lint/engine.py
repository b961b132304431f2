"""`traindoctor lint`: find files, read them safely, run every rule once per file, apply
suppressions and configuration, and return findings in the shared vocabulary."""

from __future__ import annotations

import fnmatch
from bisect import bisect_right
import io
import json
import re
import tokenize
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict

from ..vocabulary.finding import Finding, finding
from ..vocabulary.report import Report
from .backward import tabulate
from .flow import forget, parsed, release
from .registry import all_rules
from .rules.common import Context, Diagnostic

_SUPPRESS = re.compile(r"#\s*traindoctor:\s*ignore(?:\[([a-z0-9,\s-]+)\])?")
_SKIP_DIRS = {".git", ".venv", "venv", "__pycache__", "node_modules", ".tox", "build", "dist", ".mypy_cache"}
MAX_BYTES = 10_000_000
# Python's own line breaks: str.splitlines also splits at form feeds (PEP 8 allows them) and \u2028,
# which would shift every later line number away from the parser's.
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


class LintSection(TypedDict):
    """The `lint` section of a report."""

    files: int  # Python files read
    problems: list[str]  # files that could not be linted, and why


@dataclass
class Config:
    select: set[str] | None = None
    ignore: set[str] = field(default_factory=set)
    per_file_ignores: dict[str, set[str]] = field(default_factory=dict)

    def allows(self, code: str, path: str) -> bool:
        if self.select is not None and code not in self.select:
            return False
        if code in self.ignore:
            return False
        return not any(fnmatch.fnmatch(path, pattern) and (code in codes or "*" in codes)
                       for pattern, codes in self.per_file_ignores.items())


def load_config(start: Path) -> Config:
    """`[tool.traindoctor]` of the nearest pyproject.toml at or above `start`."""
    import tomllib

    for folder in [start, *start.parents]:
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            try:
                table = tomllib.loads(candidate.read_text()).get("tool", {}).get("traindoctor", {})
            except (tomllib.TOMLDecodeError, OSError) as exc:
                raise ValueError(f"{candidate}: cannot read [tool.traindoctor]: {exc}") from exc
            return Config(
                select=set(table["select"]) if "select" in table else None,
                ignore=set(table.get("ignore", ())),
                per_file_ignores={k: set(v) for k, v in table.get("per-file-ignores", {}).items()},
            )
    return Config()


@dataclass
class Source:
    path: str
    text: str
    cells: list[tuple[int, int]] | None = None  # notebooks: (first line, cell number) per code cell

    def where(self, line: int) -> dict:
        if not self.cells:
            return {"file": self.path, "line": line}
        i = bisect_right(self.cells, (line, float("inf")))  # cells are in line order
        start, cell = self.cells[i - 1] if i else (1, 1)
        return {"file": self.path, "line": line - start + 1, "cell": cell}


def discover(paths: list[Path]) -> tuple[list[Path], list[str]]:
    """The files to lint under `paths`, and what was asked for but cannot be linted."""
    files, problems = [], []
    for p in paths:
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.suffix in (".py", ".ipynb") and f.is_file()
                           and not _SKIP_DIRS & set(f.relative_to(p).parts[:-1]))
            if not found:  # a directory given and nothing in it read is not a clean scan
                problems.append(f"{p}: no .py or .ipynb file found; nothing linted")
            files += found
        elif p.is_file():
            files.append(p)
        else:
            problems.append(f"{p}: no such file or directory")
    return files, problems


def read(path: Path) -> Source:
    raw = path.read_bytes()
    if len(raw) > MAX_BYTES:
        raise ValueError(f"larger than {MAX_BYTES // 1_000_000} MB; skipped")
    if path.suffix == ".ipynb":
        return _notebook(path, raw)
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(raw).readline)
        return Source(str(path), raw.decode(encoding))
    except (SyntaxError, UnicodeDecodeError, LookupError) as exc:
        raise ValueError(f"cannot decode the file as Python source ({exc}); save it as UTF-8") from None


def _notebook(path: Path, raw: bytes) -> Source:
    try:
        data = json.loads(raw)
    except ValueError as exc:  # not JSON, or not UTF-8
        raise ValueError(f"not a readable Jupyter notebook ({type(exc).__name__}: {exc}); re-save it from Jupyter") from None
    cells = data.get("cells") if isinstance(data, dict) else None
    if not isinstance(cells, list):
        raise ValueError("not a Jupyter notebook: no list of `cells` (nbformat 4); re-save it from Jupyter")
    lines, starts, number = [], [], 0
    for i, cell in enumerate(cells, 1):
        if not isinstance(cell, dict):
            raise ValueError(f"not a readable Jupyter notebook: cell {i} is not an object; re-save it from Jupyter")
        if cell.get("cell_type") != "code":
            continue
        number += 1
        source = cell.get("source", "")
        if isinstance(source, list) and all(isinstance(part, str) for part in source):
            source = "".join(source)
        if not isinstance(source, str):
            raise ValueError(f"not a readable Jupyter notebook: the source of cell {i} is not text; re-save it from Jupyter")
        starts.append((len(lines) + 1, number))
        # IPython magics and shell escapes are not Python: keep the line count, drop the text.
        lines += ["" if ln.lstrip().startswith(("%", "!")) else ln for ln in _LINE_BREAK.split(source.rstrip("\r\n"))]
    return Source(str(path), "\n".join(lines) + "\n", starts)


def _suppressed(text: str, lines: list[str]) -> dict[int, set[str] | None]:
    out: dict[int, set[str] | None] = {}
    if "traindoctor:" not in text:
        return out
    for number, line in enumerate(lines, start=1):
        m = _SUPPRESS.search(line)
        if m:
            out[number] = {c.strip() for c in m.group(1).split(",")} if m.group(1) else None
    return out


def lint_source(source: Source, config: Config | None = None) -> list[Finding]:
    flow = parsed(source.path, source.text)
    facts = flow.facts
    ctx = Context(facts, source.path, source.text, flow)
    diags: list[Diagnostic] = []
    try:
        for rule in all_rules():
            rule.check(facts, ctx, diags)
    finally:
        tabulate(flow)
        release(flow)
    if not diags:
        return []
    lines = _LINE_BREAK.split(source.text)  # once per file: every finding's snippet and suppression reads it
    quiet = _suppressed(source.text, lines)
    config = config or Config()
    out, seen = [], set()
    # by position, then code: the output does not depend on the order the rules were discovered in
    for d in sorted(diags, key=lambda d: (d.node.lineno, d.node.col_offset, d.code)):
        line = d.node.lineno
        codes_here = quiet.get(line, set())
        if (line in quiet and codes_here is None) or d.code in (codes_here or ()) or not config.allows(d.code, source.path):
            continue
        if (d.code, line, d.node.col_offset) in seen:
            continue
        seen.add((d.code, line, d.node.col_offset))
        loc = {**source.where(line), "column": d.node.col_offset + 1}
        out.append(finding(d.code, d.message, "lint", severity=d.severity, location=loc,
                           evidence={"snippet": lines[line - 1].strip()[:200]}))
    return out


def lint_paths(paths: list[Path], config: Config | None = None) -> tuple[Report, list[str]]:
    """Lint files and directories; a file that cannot be read, parsed or linted is named in
    `problems` (and in the report's `unchecked`), and every other file is still linted."""
    files, problems = discover(paths)
    forget()  # a new run reads every module afresh
    config = config or load_config(Path.cwd())
    found: list[Finding] = []
    for path in files:
        source = None
        try:
            source = read(path)
            found += lint_source(source, config)
        except SyntaxError as exc:
            where = source.where(exc.lineno or 0) if source else {"line": exc.lineno or 0}
            cell = f"cell {where['cell']}:" if "cell" in where else ""
            problems.append(f"{path}:{cell}{where['line']}:{exc.offset or 0}: syntax error: {exc.msg}; not linted")
        except (OSError, ValueError, RecursionError) as exc:
            problems.append(f"{path}: {exc}")
        except Exception as exc:  # a rule's bug must not cost the other files their findings
            problems.append(f"{path}: internal error while linting ({type(exc).__name__}: {exc}); please report it")
    shown = problems[:3] + ([f"{len(problems) - 3} more files not linted (listed under lint.problems)"] if len(problems) > 3 else [])
    report = Report(command="lint " + " ".join(map(str, paths)), findings=found,
                    sections={"lint": LintSection(files=len(files), problems=problems)}, unchecked=shown)
    return report, problems


def ordered(report: Report) -> Report:
    """Lint output reads in file order, like a compiler's; triage order is for `run`."""
    report.findings.sort(key=lambda f: (f.location.get("file", ""), f.location.get("line", 0), f.location.get("column", 0)))
    return report

