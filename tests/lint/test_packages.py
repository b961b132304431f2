"""Every rule a factory or a loop helper can carry, with the pattern split over two modules of one
package: the helper (a factory building the model, loss, optimizer or scheduler; a function running a
training step, an evaluation or a gradient reset) in `helpers.py`, imported explicitly into
`train.py` — each beside a healthy look-alike split the same way. Only `train.py` is linted; markers
as in the fixtures (`# expect: <code>`), on its lines.
"""
import textwrap

import pytest

from traindoctor.lint.engine import Config, lint_paths
from test_rules import expected

HEAD = "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n"
IMPORTS = {"relative": "from .helpers import {names}\n", "absolute": "from helpers import {names}\n"}

LOOP = """
model = build_model()
opt = torch.optim.SGD(model.parameters(), lr=0.1)
for x, y in loader:
    opt.zero_grad()
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
"""
SEQ = "def build_model():\n    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), {tail})\n"

# name -> (helpers.py, train.py, names train.py imports, the healthy helpers.py, the healthy train.py)
CASES = {
    "double-softmax/model-factory": (
        SEQ.format(tail="nn.Linear(8, 3), nn.Softmax(dim=1)"),
        "model = build_model()\nloss = F.cross_entropy(model(x), y)  # expect: double-softmax\n",
        "build_model", SEQ.format(tail="nn.Linear(8, 3)"), None),
    "double-softmax/loss-factory-and-predict-helper": (
        "def make_loss():\n    return nn.CrossEntropyLoss()\n\ndef predict(model, x):\n    return F.softmax(model(x), dim=1)\n",
        "crit = make_loss()\nloss = crit(predict(net, x), y)  # expect: double-softmax\n",
        "make_loss, predict",
        "def make_loss():\n    return nn.CrossEntropyLoss()\n\ndef predict(model, x):\n    return model(x)\n", None),
    "double-sigmoid/factories": (
        SEQ.format(tail="nn.Linear(8, 1), nn.Sigmoid()") + "\ndef make_loss():\n    return nn.BCEWithLogitsLoss()\n",
        "model = build_model()\ncrit = make_loss()\nloss = crit(model(x), y)  # expect: double-sigmoid\n",
        "build_model, make_loss",
        SEQ.format(tail="nn.Linear(8, 1)") + "\ndef make_loss():\n    return nn.BCEWithLogitsLoss()\n", None),
    "nll-without-log-softmax/factories": (
        SEQ.format(tail="nn.Linear(8, 3)") + "\ndef make_loss():\n    return nn.NLLLoss()\n",
        "model = build_model()\ncrit = make_loss()\nloss = crit(model(x), y)  # expect: nll-without-log-softmax\n",
        "build_model, make_loss",
        SEQ.format(tail="nn.Linear(8, 3), nn.LogSoftmax(dim=1)") + "\ndef make_loss():\n    return nn.NLLLoss()\n", None),
    "grad-not-zeroed/step-helper": (
        "def train_step(model, opt, x, y):\n    loss = F.cross_entropy(model(x), y)\n    loss.backward()\n    opt.step()\n",
        "for x, y in loader:\n    train_step(model, opt, x, y)  # expect: grad-not-zeroed\n",
        "train_step",
        "def train_step(model, opt, x, y):\n    opt.zero_grad()\n    loss = F.cross_entropy(model(x), y)\n    loss.backward()\n    opt.step()\n",
        None),
    "grad-not-zeroed/reset-helper": (
        "def reset(model):\n    pass\n",
        "for x, y in loader:\n    reset(model)\n    loss = F.cross_entropy(model(x), y)\n    loss.backward()\n    opt.step()  # expect: grad-not-zeroed\n",
        "reset",
        "def reset(model):\n    for p in model.parameters():\n        p.grad = None\n", None),
    "zero-grad-misplaced/reset-helper": (
        "def reset(opt):\n    opt.zero_grad()\n",
        "for x, y in loader:\n    loss = F.cross_entropy(model(x), y)\n    loss.backward()\n    reset(opt)  # expect: zero-grad-misplaced\n    opt.step()\n",
        "reset", None,
        "for x, y in loader:\n    reset(opt)\n    loss = F.cross_entropy(model(x), y)\n    loss.backward()\n    opt.step()\n"),
    "scheduler-too-fast/scheduler-factory": (
        "def make_scheduler(opt):\n    return torch.optim.lr_scheduler.StepLR(opt, step_size=30)\n",
        "sched = make_scheduler(opt)\nfor x, y in loader:\n    opt.zero_grad()\n    F.cross_entropy(model(x), y).backward()\n"
        "    opt.step()\n    sched.step()  # expect: scheduler-too-fast\n",
        "make_scheduler",
        "def make_scheduler(opt, steps_per_epoch):\n    return torch.optim.lr_scheduler.StepLR(opt, step_size=30 * steps_per_epoch)\n",
        None),
    "no-grad-training/step-helper": (
        "def train_step(model, opt, x, y):\n    opt.zero_grad()\n    F.cross_entropy(model(x), y).backward()\n    opt.step()\n",
        "with torch.no_grad():\n    train_step(model, opt, x, y)  # expect: no-grad-training\n",
        "train_step", None, "train_step(model, opt, x, y)\n"),
    "graph-break/loss-helper": (
        "def compute_loss(model, x, y):\n    return torch.tensor(F.cross_entropy(model(x), y).item())\n",
        "for x, y in loader:\n    opt.zero_grad()\n    loss = compute_loss(model, x, y)\n    loss.backward()  # expect: graph-break\n    opt.step()\n",
        "compute_loss",
        "def compute_loss(model, x, y):\n    return F.cross_entropy(model(x), y)\n", None),
    "squeeze-without-dim/predict-helper": (
        "def predict(model, x):\n    return model(x).squeeze()\n",
        "loss = criterion(predict(model, x), y)  # expect: squeeze-without-dim\n",
        "predict", "def predict(model, x):\n    return model(x).squeeze(1)\n", None),
    "eval-in-train-mode/evaluate-helper": (
        SEQ.format(tail="nn.Dropout(0.5), nn.Linear(8, 3)") + "\n@torch.no_grad()\ndef evaluate(model, x):\n    return model(x)\n",
        LOOP + "evaluate(model, x)  # expect: eval-in-train-mode\n",
        "build_model, evaluate",
        SEQ.format(tail="nn.Dropout(0.5), nn.Linear(8, 3)") + "\n@torch.no_grad()\ndef evaluate(model, x):\n    model.eval()\n    return model(x)\n",
        None),
    "train-in-eval-mode/evaluate-helper": (
        SEQ.format(tail="nn.Dropout(0.5), nn.Linear(8, 3)") + "\ndef evaluate(model, x):\n    model.eval()\n    with torch.no_grad():\n        return model(x)\n",
        "model = build_model()\nopt = torch.optim.SGD(model.parameters(), lr=0.1)\nfor epoch in range(3):\n"
        "    for x, y in loader:\n        opt.zero_grad()\n        F.cross_entropy(model(x), y).backward()\n        opt.step()\n"
        "    evaluate(model, x)  # expect: train-in-eval-mode\n",
        "build_model, evaluate",
        SEQ.format(tail="nn.Dropout(0.5), nn.Linear(8, 3)") + "\ndef evaluate(model, x):\n    model.eval()\n    with torch.no_grad():\n"
        "        out = model(x)\n    model.train()\n    return out\n",
        None),
}


def _lint(tmp_path, helpers: str, train: str, names: str, style: str, helpers_first: bool = False) -> tuple[str, list]:
    (tmp_path / "helpers.py").write_text(HEAD + textwrap.dedent(helpers))
    text = HEAD + IMPORTS[style].format(names=names) + textwrap.dedent(train)
    (tmp_path / "train.py").write_text(text)
    first = [tmp_path / "helpers.py"] if helpers_first else []
    report, problems = lint_paths([*first, tmp_path / "train.py"], Config())
    assert problems == []
    return text, [f for f in report.findings if f.location["file"].endswith("train.py")]


@pytest.mark.parametrize("helpers_first", [False, True], ids=["alone", "after-helpers"])  # after: read from its table
@pytest.mark.parametrize("style", IMPORTS)
@pytest.mark.parametrize("kind", ["bad", "good"])
@pytest.mark.parametrize("name", CASES)
def test_pattern_split_across_two_modules(tmp_path, name, kind, style, helpers_first):
    helpers, train, names, good_helpers, good_train = CASES[name]
    code = name.split("/")[0]
    if kind == "good":
        assert good_helpers or good_train
        helpers, train = good_helpers or helpers, (good_train or train).replace(f"  # expect: {code}", "")
    text, found = _lint(tmp_path, helpers, train, names, style, helpers_first)
    got = {(f.location["line"], f.code) for f in found}
    assert got == set(expected(text)), [(f.location["line"], f.code, f.observation) for f in found]
    assert any(c == code for _, c in got) == (kind == "bad")


def test_modules_importing_each_other_terminate(tmp_path):
    (tmp_path / "helpers.py").write_text(HEAD + "from train import run\n\n"
                                         "def build_model():\n    return run(build_model())\n\n"
                                         "def step(opt):\n    run(opt)\n    opt.zero_grad()\n")
    text = HEAD + "from helpers import build_model, step\n\ndef run(x):\n    step(x)\n    return build_model()\n\n" \
        "model = run(build_model())\nfor x, y in loader:\n    step(opt)\n    F.cross_entropy(model(x), y).backward()\n    opt.step()\n"
    (tmp_path / "train.py").write_text(text)
    report, problems = lint_paths([tmp_path], Config())
    assert problems == [] and report.findings == []


@pytest.mark.parametrize("train", [
    "from helpers import *\nfor x, y in loader:\n    train_step(model, opt, x, y)\n",  # no name is guessed from `*`
    "from helpers import train_step\n\ndef loop(train_step):\n    for x, y in loader:\n        train_step(model, opt, x, y)\n",  # shadowed
    "from torch_helpers import train_step\nfor x, y in loader:\n    train_step(model, opt, x, y)\n",  # not next to the file
])
def test_only_explicit_imports_of_modules_next_to_the_file_are_followed(tmp_path, train):
    (tmp_path / "helpers.py").write_text(HEAD + "def train_step(model, opt, x, y):\n    F.cross_entropy(model(x), y).backward()\n"
                                         "    opt.step()\n")
    (tmp_path / "train.py").write_text(HEAD + train)
    report, problems = lint_paths([tmp_path / "train.py"], Config())
    assert problems == [] and report.findings == []


def test_a_module_read_once_in_a_run_is_not_read_again_for_a_loop_that_cannot_train(tmp_path, monkeypatch):
    """A loop whose calls reach no backward() is not spliced: its imported helpers are looked up in the
    table their module left when it was first read in the run — whether it is read again depends on
    what the helper runs, not on its text (which mentions backward here in both cases)."""
    from traindoctor.lint import flow

    reads = []
    real_collect = flow.collect
    monkeypatch.setattr(flow, "collect", lambda tree: reads.append(tree) or real_collect(tree))
    (tmp_path / "helpers.py").write_text(HEAD + "from steps import train_step\n\ndef log(*x):\n    print(x)  # not x.backward()\n")
    (tmp_path / "steps.py").write_text(HEAD + "def train_step(model, opt, x, y):\n"
                                       "    F.cross_entropy(model(x), y).backward()\n    opt.step()\n")
    for name, expect in [("log", []), ("train_step", ["grad-not-zeroed"])]:  # a re-export: what steps.py runs
        loop = HEAD + f"from helpers import {name}\n\nfor x, y in loader:\n    {name}(model, opt, x, y)\n"
        (tmp_path / "train.py").write_text(loop)
        reads.clear()
        report, problems = lint_paths([tmp_path / "helpers.py", tmp_path / "train.py"], Config())
        assert problems == [] and [f.code for f in report.findings] == expect
        assert len(reads) == (2 if name == "log" else 4)  # helpers.py and train.py linted; read again to splice
