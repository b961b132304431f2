"""The package's floors: a module imports only from its own floor or below, and the producers do not
import each other (docs/architecture.md). A lower floor importing a higher one fails here."""

import ast
from pathlib import Path

from conftest import ROOT

PACKAGE = ROOT / "src" / "traindoctor"
FLOORS = {
    "version": 0, "vocabulary": 0,
    "measure": 1,
    "judge": 2,
    "diagnosis": 3,
    "run": 4, "monitor": 4, "curves": 4, "lint": 4, "data": 4, "sweeps": 4,
    "surface": 4,
    "render": 5, "integrations": 5,
    "cli": 6, "docs_gen": 6, "__init__": 6, "__main__": 6,
}
PRODUCERS = {name for name, floor in FLOORS.items() if floor == 4}
# Renderers present a report: they read the vocabulary only, never what measures or judges.
RENDER_MAY_IMPORT = {"vocabulary", "version", "render"}
# checkup's producer sits in diagnosis/ (a checkup/ folder would shadow the public traindoctor.checkup
# function); it is a producer all the same: only the top floor calls it.
CHECKUP = "traindoctor.diagnosis.checkup"


def part(module: str) -> str:
    """The top-level part of traindoctor a dotted module name belongs to."""
    return module.split(".")[1] if module.count(".") else "__init__"


def imports(path: Path, package: Path = PACKAGE) -> list[tuple[int, str]]:
    """(line, absolute traindoctor module) for every import in the file, relative ones resolved."""
    here = list(path.relative_to(package.parent).with_suffix("").parts[:-1])
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("traindoctor"):
                names = [f"{target}.{a.name}" for a in node.names] if target == "traindoctor" else [target]
                out += [(node.lineno, n) for n in names]
        elif isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.startswith("traindoctor")]
    return out


def floor_of(name: str) -> int:
    assert name in FLOORS, f"traindoctor.{name} has no floor: add it to FLOORS here and to docs/architecture.md"
    return FLOORS[name]


def test_every_part_has_a_floor():
    parts = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir()
             if (p.suffix == ".py" or (p.is_dir() and (p / "__init__.py").exists()))}
    assert parts <= set(FLOORS), parts - set(FLOORS)


def test_imports_go_down_or_sideways_within_a_part():
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        me = part(".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts))
        for line, target in imports(path):
            other = part(target)
            if other == me or (me == "__init__" and other == "__init__"):
                continue
            if floor_of(other) > floor_of(me) or (me in PRODUCERS and other in PRODUCERS):
                wrong.append(f"{path.relative_to(PACKAGE)}:{line} imports {target} (floor {FLOORS[other]} from {FLOORS[me]})")
            if me == "render" and other not in RENDER_MAY_IMPORT:
                wrong.append(f"{path.relative_to(PACKAGE)}:{line}: a renderer imports {target}")
            if target == CHECKUP and floor_of(me) < 6 and path.stem != "checkup":
                wrong.append(f"{path.relative_to(PACKAGE)}:{line}: a lower floor calls the checkup producer")
    assert not wrong, "\n".join(wrong)


def test_the_checker_catches_an_upward_import(tmp_path):
    """The test above can fail: a measuring module that imports the judge, relatively or not, is caught."""
    bad = tmp_path / "traindoctor" / "measure" / "upward.py"
    bad.parent.mkdir(parents=True)
    bad.write_text("from ..judge import steps\nimport traindoctor.cli\nfrom . import stats\n")
    found = [part(t) for _, t in imports(bad, tmp_path / "traindoctor")]
    assert found == ["judge", "cli", "measure"]
    assert all(floor_of(p) > floor_of("measure") for p in found[:2])
