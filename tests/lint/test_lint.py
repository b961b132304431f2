"""The lint engine: suppressions, configuration, notebooks, unreadable files, output formats and
linear work. Each rule's own cases are fixture files (tests/lint/fixtures/, run by test_rules.py)."""
import json
import textwrap

import jsonschema
import pytest

from traindoctor.lint.engine import Config, Source, lint_paths, lint_source
from traindoctor.render import render
from traindoctor.render.json_report import schema

HEAD = "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n"


def codes(code, path="train.py", config=None):
    return [f.code for f in lint_source(Source(path, HEAD + textwrap.dedent(code)), config)]


def test_suppression_comments():
    bad = "probs = F.softmax(logits, 1)\nloss = F.cross_entropy(probs, y)  # traindoctor: ignore[double-softmax]\n"
    assert codes(bad) == []
    assert codes(bad.replace("[double-softmax]", "[grad-not-zeroed]")) == ["double-softmax"]
    assert codes(bad.replace("[double-softmax]", "")) == []


def test_config_select_ignore_and_per_file():
    bad = "probs = F.softmax(logits, 1)\nloss = F.cross_entropy(probs, y)\nstate = torch.load('x', weights_only=False)\n"
    assert codes(bad, config=Config(ignore={"unsafe-torch-load"})) == ["double-softmax"]
    assert codes(bad, config=Config(select={"unsafe-torch-load"})) == ["unsafe-torch-load"]
    assert codes(bad, path="tests/test_x.py", config=Config(per_file_ignores={"tests/*": {"*"}})) == []


def test_notebook_cells_and_magics(tmp_path):
    nb = {"cells": [
        {"cell_type": "markdown", "source": ["# title"]},
        {"cell_type": "code", "source": ["%matplotlib inline\n", "import torch\n", "import torch.nn.functional as F\n"]},
        {"cell_type": "code", "source": ["!pip install x\n", "p = F.softmax(z, 1)\n", "loss = F.cross_entropy(p, y)\n"]},
    ], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps(nb))
    report, problems = lint_paths([path], Config())
    assert problems == []
    [f] = report.findings
    assert f.code == "double-softmax" and f.location["cell"] == 2 and f.location["line"] == 3


def test_bad_files_are_reported_and_linting_goes_on(tmp_path):
    (tmp_path / "syntax.py").write_text("def f(:\n")
    (tmp_path / "latin.py").write_bytes(b"x = '\xe9'\n")
    (tmp_path / "empty.py").write_text("")
    (tmp_path / "nb.ipynb").write_text("{not json")
    (tmp_path / "good.py").write_text("import torch.nn.functional as F\np = F.softmax(z, 1)\nl = F.cross_entropy(p, y)\n")
    report, problems = lint_paths([tmp_path, tmp_path / "missing.py"], Config())
    text = "\n".join(problems)
    assert "syntax.py:1" in text and "syntax error" in text
    assert "latin.py" in text and "UTF-8" in text
    assert "nb.ipynb" in text and "notebook" in text
    assert "missing.py: no such file" in text
    assert [f.code for f in report.findings] == ["double-softmax"]


def test_output_formats_validate(tmp_path):
    (tmp_path / "t.py").write_text("import torch.nn.functional as F\np = F.softmax(z, 1)\nl = F.cross_entropy(p, y)\n")
    report, _ = lint_paths([tmp_path], Config())
    jsonschema.validate(json.loads(render(report, "json")), schema())
    text = render(report, "text")
    assert text.splitlines()[0].startswith(f"{tmp_path / 't.py'}:3:") and " double-softmax " in text
    sarif = json.loads(render(report, "sarif"))
    assert sarif["version"] == "2.1.0"
    result = sarif["runs"][0]["results"][0]
    assert result["ruleId"] == "double-softmax" and result["locations"][0]["physicalLocation"]["region"]["startLine"] == 3
    assert sarif["runs"][0]["tool"]["driver"]["rules"][result["ruleIndex"]]["id"] == "double-softmax"


def test_bundled_healthy_examples_are_clean():
    from conftest import EXAMPLES
    report, problems = lint_paths(sorted(EXAMPLES.glob("healthy_*.py")), Config())
    assert problems == [] and report.findings == []


def test_oversized_file_is_skipped_with_a_message(tmp_path, monkeypatch):
    from traindoctor.lint import engine
    monkeypatch.setattr(engine, "MAX_BYTES", 10)
    (tmp_path / "big.py").write_text("x = 1\n" * 10)
    report, problems = lint_paths([tmp_path], Config())
    assert problems and "big.py" in problems[0] and "skipped" in problems[0]


class _CountingText(str):
    """Source text that counts how often it is split into lines: once per file is linear, once per
    finding is the quadratic that made a 5 MB file take minutes."""
    splits = 0

    def splitlines(self, *args, **kw):
        _CountingText.splits += 1
        return super().splitlines(*args, **kw)


def _work(text: str) -> tuple[int, int, int]:
    """Python lines executed by lint_source (its own modules only), text splits, findings: work counted, not timed."""
    import sys
    lines = [0]

    def tracer(frame, event, arg):
        if "traindoctor" not in frame.f_code.co_filename:
            return None  # ast's own walks are linear; count the rules and the engine
        if event == "line":
            lines[0] += 1
        return tracer

    _CountingText.splits = 0
    source = Source("gen.py", _CountingText(text))
    sys.settrace(tracer)
    try:
        found = lint_source(source, Config())
    finally:
        sys.settrace(None)
    return lines[0], _CountingText.splits, len(found)


def test_lint_work_grows_linearly_with_the_number_of_findings():
    import sys
    from conftest import ROOT
    sys.path.insert(0, str(ROOT / "bench"))
    from lint_speed import many_findings  # the benchmark's file: every rule's per-finding lookups at once

    small, big = _work(many_findings(40)), _work(many_findings(160))
    assert big[2] > 3.9 * small[2] > 200  # findings: one per few lines
    assert big[1] <= 1 and small[1] <= 1, "the text is split once per file, not once per finding"
    # linear work: 4x the file, ~4x the lines executed (quadratic would be ~16x)
    assert big[0] < 5 * small[0], (small, big)


def test_form_feed_lines_keep_suppressions_and_snippets_on_their_line():
    """PEP 8 allows form feeds; str.splitlines breaks at them but the parser does not."""
    src = "\x0c\nprobs = F.softmax(logits, 1)\nloss = F.cross_entropy(probs, y)  # traindoctor: ignore[double-softmax]\n"
    assert codes(src) == []
    [f] = lint_source(Source("t.py", HEAD + src.replace("# traindoctor: ignore[double-softmax]", "")))
    assert f.evidence["snippet"] == "loss = F.cross_entropy(probs, y)"


@pytest.mark.parametrize("layout", ["empty", "only data files", "python only in skipped dirs"])
def test_a_directory_without_python_files_is_not_a_clean_scan(tmp_path, layout):
    if layout == "only data files":
        (tmp_path / "train.txt").write_text("import torch\n")
        (tmp_path / "data.csv").write_text("a,b\n1,2\n")
    elif layout == "python only in skipped dirs":
        for skipped in (".venv", "__pycache__", "build"):
            (tmp_path / skipped).mkdir()
            (tmp_path / skipped / "train.py").write_text("import torch\n")
    report, problems = lint_paths([tmp_path], Config())
    assert problems == [f"{tmp_path}: no .py or .ipynb file found; nothing linted"]
    assert report.unchecked == problems and report.exit_code == 2


def test_a_directory_without_python_files_next_to_one_with_them(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "train.py").write_text("x = 1\n")
    (tmp_path / "notebooks").mkdir()
    report, problems = lint_paths([tmp_path / "src", tmp_path / "notebooks"], Config())
    assert problems == [f"{tmp_path / 'notebooks'}: no .py or .ipynb file found; nothing linted"]
    assert report.sections["lint"]["files"] == 1 and report.exit_code == 2


def test_a_linted_module_is_freed_when_its_lint_returns(tmp_path, monkeypatch):
    """Reference counting alone frees a linted file's tree, the sibling modules read for it and all
    lint built on them (calls, scopes, memoised values): none waits for a full garbage collection,
    which every tree left to it makes longer. A sibling is parsed once per linted file, however many
    of its names the file uses."""
    import gc
    import weakref

    from traindoctor.lint import flow

    trees = []  # each module parsed, in order, weakly

    def collect(tree):
        trees.append(weakref.ref(tree))
        return real_collect(tree)

    real_collect = flow.collect
    monkeypatch.setattr(flow, "collect", collect)
    (tmp_path / "helpers.py").write_text(HEAD + textwrap.dedent("""
        class Net(nn.Module):
            def forward(self, x):
                return F.softmax(x, dim=1)

        def train_step(model, opt, x, y):
            F.cross_entropy(model(x), y).backward()
            opt.step()
        """))
    train = Source(str(tmp_path / "train.py"), HEAD + textwrap.dedent("""
        from helpers import Net, train_step

        def make():
            return Net()

        model = make()
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for x, y in loader:
            train_step(model, opt, x, y)
            F.cross_entropy(Net()(x), y)
        """))
    enabled = gc.isenabled()
    gc.disable()
    try:
        flow.forget()
        first = lint_source(train)
        assert [f.code for f in first] == ["grad-not-zeroed", "double-softmax"]  # helpers.py was read
        assert len(trees) == 2 and trees[0]() is None and trees[1]() is None
        assert [f.code for f in lint_source(train)] == [f.code for f in first] and len(trees) == 4
    finally:
        if enabled:
            gc.enable()
