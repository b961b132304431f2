"""Every lint rule on true-positive code and on the healthy idioms it must leave alone."""
import json
import textwrap

import jsonschema
import pytest

from traindoctor.lint.engine import Config, Source, lint_paths, lint_source
from traindoctor.render import render
from traindoctor.render.json_report import schema

HEAD = "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n"


def lint(code, path="train.py", config=None):
    return [(f.code, f.location["line"]) for f in lint_source(Source(path, HEAD + textwrap.dedent(code)), config)]


def codes(code, **kw):
    return [c for c, _ in lint(code, **kw)]


# (code, broken source, healthy source) — each pair differs only by the bug
CASES = {
    "double-softmax": [(
        """
        model = nn.Sequential(nn.Linear(4, 3), nn.Softmax(dim=1))
        crit = nn.CrossEntropyLoss()
        loss = crit(model(x), y)
        """, """
        model = nn.Sequential(nn.Linear(4, 3))
        crit = nn.CrossEntropyLoss()
        loss = crit(model(x), y)
        """), (
        """
        probs = F.softmax(logits, dim=-1)
        loss = F.cross_entropy(probs, y)
        """, """
        probs = F.softmax(logits, dim=-1)   # used for metrics only
        loss = F.cross_entropy(logits, y)
        """), (
        """
        class Net(nn.Module):
            def forward(self, x):
                return torch.softmax(self.fc(x), dim=1)
        net = Net()
        loss = F.cross_entropy(net(x), y)
        """, """
        class Net(nn.Module):
            def forward(self, x):
                return self.fc(x)
        net = Net()
        loss = F.cross_entropy(net(x), y)
        """)],
    "double-sigmoid": [(
        """
        crit = nn.BCEWithLogitsLoss()
        loss = crit(torch.sigmoid(model(x)).squeeze(-1), y)
        """, """
        crit = nn.BCEWithLogitsLoss()
        loss = crit(model(x).squeeze(-1), y)
        """)],
    "nll-without-log-softmax": [(
        """
        model = nn.Sequential(nn.Linear(4, 3))
        loss = F.nll_loss(model(x), y)
        """, """
        model = nn.Sequential(nn.Linear(4, 3), nn.LogSoftmax(dim=1))
        loss = F.nll_loss(model(x), y)
        """)],
    "grad-not-zeroed": [(
        """
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for x, y in loader:
            loss = F.mse_loss(model(x), y)
            loss.backward()
            opt.step()
        """, """
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for i, (x, y) in enumerate(loader):       # gradient accumulation
            (F.mse_loss(model(x), y) / 4).backward()
            if (i + 1) % 4 == 0:
                opt.step()
                opt.zero_grad(set_to_none=True)
        """), (
        """
        def train(model, optimizer, loader):
            for x, y in loader:
                F.mse_loss(model(x), y).backward()
                optimizer.step()
        """, """
        def reset(model):
            model.zero_grad()
        def train(model, optimizer, loader):
            for x, y in loader:
                reset(model)                       # zero_grad inside a helper
                F.mse_loss(model(x), y).backward()
                optimizer.step()
        """), (
        """
        optimizer.zero_grad()                      # once, before the loop
        for x, y in loader:
            F.mse_loss(model(x), y).backward()
            optimizer.step()
        """, """
        for x, y in loader:
            for p in model.parameters():
                p.grad = None                      # manual reset
            F.mse_loss(model(x), y).backward()
            optimizer.step()
        """)],
    "zero-grad-misplaced": [(
        """
        for x, y in loader:
            F.mse_loss(model(x), y).backward()
            optimizer.zero_grad()
            optimizer.step()
        """, """
        for x, y in loader:
            optimizer.zero_grad()
            F.mse_loss(model(x), y).backward()
            optimizer.step()
        """), (
        """
        for x, y in loader:
            loss = F.mse_loss(model(x), y)
            loss.backward()
            model.zero_grad()
            optimizer.step()
        """, """
        for x, y in loader:
            F.mse_loss(model(x), y).backward()
            optimizer.step()
            optimizer.zero_grad()                  # after the step is fine
        """)],
    "scheduler-too-fast": [(
        """
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=30)
        for epoch in range(90):
            for x, y in train_loader:
                opt.zero_grad(); F.mse_loss(model(x), y).backward(); opt.step()
                sched.step()
        """, """
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=30)
        for epoch in range(90):
            for x, y in train_loader:
                opt.zero_grad(); F.mse_loss(model(x), y).backward(); opt.step()
            sched.step()
        """), (
        """
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=100)
        for x, y in loader:
            opt.zero_grad(); F.mse_loss(model(x), y).backward(); opt.step(); sched.step()
        """, """
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=len(loader))
        for x, y in loader:
            opt.zero_grad(); F.mse_loss(model(x), y).backward(); opt.step(); sched.step()
        """), (
        """
        sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.9)
        for batch in dataloader:
            opt.zero_grad(); model(batch).backward(); opt.step(); sched.step()
        """, """
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * len(loader))
        for x, y in loader:
            opt.zero_grad(); F.mse_loss(model(x), y).backward(); opt.step(); sched.step()
        """)],
    "eval-in-train-mode": [(
        """
        model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 1))
        for x, y in loader:
            opt.zero_grad(); F.mse_loss(model(x), y).backward(); opt.step()
        with torch.no_grad():
            val = F.mse_loss(model(xv), yv)
        """, """
        model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 1))
        def evaluate():
            model.eval()                           # eval() in a helper called before the loop
        for x, y in loader:
            opt.zero_grad(); F.mse_loss(model(x), y).backward(); opt.step()
        evaluate()
        with torch.no_grad():
            val = F.mse_loss(model(xv), yv)
        """), (
        """
        class Net(nn.Module):
            def __init__(self):
                super().__init__(); self.bn = nn.BatchNorm1d(8)
        model = Net().to("cpu")
        for x, y in loader:
            opt.zero_grad(); F.mse_loss(model(x), y).backward(); opt.step()
        with torch.no_grad():
            model(xv)
        """, """
        class Net(nn.Module):                      # no dropout, no batch norm: eval() changes nothing
            def __init__(self):
                super().__init__(); self.fc = nn.Linear(4, 1)
        model = Net().to("cpu")
        for x, y in loader:
            opt.zero_grad(); F.mse_loss(model(x), y).backward(); opt.step()
        with torch.no_grad():
            model(xv)
        """)],
    "train-in-eval-mode": [(
        """
        for epoch in range(10):
            for x, y in loader:
                opt.zero_grad(); F.mse_loss(model(x), y).backward(); opt.step()
            model.eval()
            with torch.no_grad():
                model(xv)
        """, """
        for epoch in range(10):
            model.train()
            for x, y in loader:
                opt.zero_grad(); F.mse_loss(model(x), y).backward(); opt.step()
            model.eval()
            with torch.no_grad():
                model(xv)
        """)],
    "no-grad-training": [(
        """
        with torch.no_grad():
            for x, y in loader:
                opt.zero_grad(); F.mse_loss(model(x), y).backward(); opt.step()
        """, """
        for x, y in loader:
            opt.zero_grad(); F.mse_loss(model(x), y).backward(); opt.step()
        with torch.no_grad():
            ema.mul_(0.9)
        """)],
    "graph-break": [(
        """
        for x, y in loader:
            opt.zero_grad()
            loss = torch.tensor(F.mse_loss(model(x), y).item(), requires_grad=True)
            loss.backward(); opt.step()
        """, """
        for x, y in loader:
            opt.zero_grad()
            loss = F.mse_loss(model(x), target.detach())   # detaching the target is fine
            loss.backward(); opt.step()
            print(loss.item())
        """)],
    "test-fit-leakage": [(
        """
        X_train = scaler.fit_transform(X_train)
        X_test = scaler.fit_transform(X_test)
        """, """
        X_train = scaler.fit_transform(X_train)
        X_test = scaler.transform(X_test)
        """)],
    "shuffled-time-split": [(
        """
        df["date"] = pd.to_datetime(df["date"])
        train, test = train_test_split(df, test_size=0.2)
        """, """
        df["date"] = pd.to_datetime(df["date"])
        train, test = train_test_split(df, test_size=0.2, shuffle=False)
        """)],
    "squeeze-without-dim": [(
        """
        loss = criterion(model(x).squeeze(), y)
        """, """
        loss = criterion(model(x).squeeze(-1), y)
        """)],
    "prng-key-reuse": [(
        """
        import jax
        def init(key):
            w = jax.random.normal(key, (3,))
            b = jax.random.normal(key, (3,))
            return w, b
        """, """
        import jax
        def init(key):
            k1, k2 = jax.random.split(key)
            w = jax.random.normal(k1, (3,))
            b = jax.random.normal(k2, (3,))
            return w, b
        """)],
    "jit-side-effect": [(
        """
        import jax
        @jax.jit
        def step(x):
            print(x)
            return x * 2
        """, """
        import jax
        @jax.jit
        def step(x):
            jax.debug.print("{}", x)
            return x * 2
        """)],
    "unsafe-torch-load": [(
        """
        state = torch.load("ckpt.pt", weights_only=False)
        """, """
        state = torch.load("ckpt.pt", weights_only=True)
        """)],
    "inplace-on-leaf": [(
        """
        w = torch.randn(3, requires_grad=True)
        for step in range(10):
            loss = (w ** 2).sum()
            loss.backward()
            w -= 0.1 * w.grad
        """, """
        w = torch.randn(3, requires_grad=True)
        for step in range(10):
            loss = (w ** 2).sum()
            loss.backward()
            with torch.no_grad():
                w -= 0.1 * w.grad
                w.grad.zero_()
        """)],
}

PAIRS = [(code, i, bad, good) for code, pairs in CASES.items() for i, (bad, good) in enumerate(pairs)]


@pytest.mark.parametrize("code,i,bad,good", PAIRS, ids=[f"{c}-{i}" for c, i, _, _ in PAIRS])
def test_rule_true_positive_and_true_negative(code, i, bad, good):
    assert code in codes(bad), lint(bad)
    assert code not in codes(good), lint(good)


def test_every_rule_has_cases():
    from traindoctor.lint.rules import RULES  # noqa: F401  (the rule functions)
    assert len(CASES) >= 17


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


def test_rules_doc_in_sync_and_complete():
    from conftest import ROOT
    from traindoctor.lint import docs
    assert set(docs.BOUNDARIES) == set(CASES)
    assert (ROOT / "docs" / "rules.md").read_text() == docs.render(), "run `make docs`"


def test_log_softmax_into_cross_entropy_is_info():
    src = "model = nn.Sequential(nn.Linear(4, 3), nn.LogSoftmax(dim=1))\nloss = F.cross_entropy(model(x), y)\n"
    [f] = lint_source(Source("t.py", HEAD + src))
    assert (f.code, f.severity) == ("double-softmax", "info")


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
