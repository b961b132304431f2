"""Every threshold is defined once, in judge/thresholds.py, with its source; docs/thresholds.md follows it."""

import ast
from pathlib import Path

from conftest import ROOT
from traindoctor.judge import docs, thresholds

PACKAGE = ROOT / "src" / "traindoctor"


def test_docs_in_sync():
    assert (ROOT / "docs" / "thresholds.md").read_text() == docs.render()


def test_every_threshold_has_its_source_above_it():
    listed = [names for _, _, entries in docs.sections() for names, comment in entries if comment]
    named = {n for names in listed for n, _ in names}
    constants = {n for n in vars(thresholds) if n.isupper()}
    assert constants == named


def test_no_threshold_is_defined_twice():
    """A module-level constant elsewhere with a threshold's name is a second definition that can drift."""
    names = {n for n in vars(thresholds) if n.isupper()}
    for path in PACKAGE.rglob("*.py"):
        if path.name == "thresholds.py":
            continue
        for node in ast.parse(path.read_text()).body:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
            for t in targets:
                assert not (isinstance(t, ast.Name) and t.id in names), f"{path.relative_to(PACKAGE)} defines {t.id} again"
