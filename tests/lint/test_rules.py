"""Every lint rule against its fixtures: tests/lint/fixtures/<code>/bad_*.py and good_*.py.

A fixture marks each line a finding must be reported on with `# expect: <code>` (several codes
separated by commas; `<code> (info)` also checks the severity); a good fixture is a healthy
look-alike of the bug and expects nothing of its rule. The findings of the whole file must
be exactly the marked ones, so a fixture also catches another rule's false alarm. A new fixture
needs no test code: it is discovered here.
"""
import re
from pathlib import Path

import pytest

from traindoctor.lint.engine import Config, Source, lint_source
from traindoctor.lint.registry import all_rules

FIXTURES = Path(__file__).parent / "fixtures"
# other .py files in a fixture folder are modules its fixtures import (a model class next to the script)
FILES = sorted(p for p in FIXTURES.glob("*/*.py") if p.name.startswith(("bad_", "good_")))
_EXPECT = re.compile(r"#\s*expect:\s*(.+)$")
_ITEM = re.compile(r"([a-z0-9-]+)(?:\s*\((error|warning|info)\))?")


def expected(text: str) -> dict[tuple[int, str], str | None]:
    """(line, code) -> the severity the marker asks for (None: any)."""
    out = {}
    for number, line in enumerate(text.splitlines(), 1):
        m = _EXPECT.search(line)
        for item in m.group(1).split(",") if m else ():
            parsed = _ITEM.fullmatch(item.strip())
            assert parsed, f"line {number}: cannot read the marker {item.strip()!r}"
            out[(number, parsed.group(1))] = parsed.group(2)
    return out


@pytest.mark.parametrize("path", FILES, ids=[f"{p.parent.name}/{p.stem}" for p in FILES])
def test_fixture(path):
    code, kind = path.parent.name, path.stem.split("_", 1)[0]
    text = path.read_text()
    want = expected(text)
    found = lint_source(Source(str(path), text), Config())
    got = {(f.location["line"], f.code) for f in found}
    assert got == set(want), [(f.location["line"], f.code, f.message) for f in found]
    for f in found:
        severity = want[(f.location["line"], f.code)]
        assert severity in (None, f.severity), (f.location["line"], f.code, f.severity)
    own = [line for line, c in want if c == code]
    assert own if kind == "bad" else not own, f"a {kind} fixture of {code} {'must' if kind == 'bad' else 'must not'} expect it"


def test_every_rule_has_bad_and_good_fixtures_and_every_fixture_folder_a_rule():
    codes = {r.code for r in all_rules()}
    folders = {p.name for p in FIXTURES.iterdir() if p.is_dir()}
    assert folders == codes
    for code in codes:
        assert list((FIXTURES / code).glob("bad_*.py")) and list((FIXTURES / code).glob("good_*.py")), code


def test_rules_doc_in_sync_and_every_rule_in_the_catalog():
    from conftest import ROOT
    from traindoctor.lint import docs
    from traindoctor.vocabulary import catalog

    assert all(r.code in catalog.CATALOG for r in all_rules())
    assert (ROOT / "docs" / "rules.md").read_text() == docs.render(), "run `make docs`"


def test_a_rule_without_its_documentation_is_refused():
    from traindoctor.lint.registry import rule

    def undocumented(facts, ctx, diags):
        """Finds things."""

    with pytest.raises(ValueError, match="## How it decides"):
        rule("double-softmax-undocumented")(undocumented)
