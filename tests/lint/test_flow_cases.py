"""Every rule with its pattern spread out as real code spreads it — over two functions, into a
method, across a class (the model in one place, the loss or optimizer in another, the loop in a
third function receiving both), through a decorator where one matters — each beside a healthy
look-alike with the same spread and no bug, so no case passes vacuously.

Markers as in the fixtures (`# expect: <code>`): a case's findings must be exactly its marked lines.
"""
import re
import textwrap

import pytest

from traindoctor.lint.engine import Config, Source, lint_source
from test_rules import expected

HEAD = "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n"

# A model class ending in softmax, a loss built in a factory, a loop in a third function.
SOFTMAX_NET = """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        h = self.fc(x)
        return F.softmax(h, dim=1)
"""
LOGITS_NET = SOFTMAX_NET.replace("return F.softmax(h, dim=1)", "return h")
TRAIN_FN = """
def make_loss():
    return nn.CrossEntropyLoss()

def fit(model, criterion, loader, opt):
    for x, y in loader:
        opt.zero_grad()
        loss = criterion(model(x), y)  # expect: double-softmax
        loss.backward()
        opt.step()

net = Net()
fit(net, make_loss(), loader, torch.optim.SGD(net.parameters(), lr=0.1))
"""
TRAINER = """
class Trainer:
    def __init__(self, model):
        self.model = model
        self.loss_fn = nn.CrossEntropyLoss()
        self.opt = torch.optim.Adam(model.parameters())

    def step(self, x, y):
        self.opt.zero_grad()
        out = self.model(x).view(-1, 3)
        loss = self.loss_fn(out, y)  # expect: double-softmax
        loss.backward()
        self.opt.step()

Trainer(Net()).step(x, y)
"""
SEQ_HELPER = """
def build():
    return nn.Sequential(nn.Linear(4, 3), nn.Softmax(dim=1))

def predict(model, x):
    return model(x).squeeze(1)

m = build()
loss = F.cross_entropy(predict(m, x), y)  # expect: double-softmax
"""
CLASS_WRAPS_SEQ = """
class Head(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 3), nn.Softmax(dim=1))

    def forward(self, x):
        return self.net(x)

model = torch.compile(Head().to("cpu"))
loss = F.cross_entropy(model(x), y)  # expect: double-softmax
"""

SIGMOID_NET = SOFTMAX_NET.replace("F.softmax(h, dim=1)", "torch.sigmoid(h)")
BCE_FN = TRAIN_FN.replace("nn.CrossEntropyLoss()", "nn.BCEWithLogitsLoss()").replace("double-softmax", "double-sigmoid")
BCE_TRAINER = TRAINER.replace("nn.CrossEntropyLoss()", "nn.BCEWithLogitsLoss()").replace("double-softmax", "double-sigmoid")
LOGSOFTMAX_NET = SOFTMAX_NET.replace("F.softmax(h, dim=1)", "F.log_softmax(h, dim=1)")
NLL_FN = TRAIN_FN.replace("nn.CrossEntropyLoss()", "nn.NLLLoss()").replace("double-softmax", "nll-without-log-softmax")
NLL_TRAINER = TRAINER.replace("nn.CrossEntropyLoss()", "nn.NLLLoss()").replace("double-softmax", "nll-without-log-softmax")

STEP_HELPER = """
def train_step(model, o, x, y):
    loss = F.mse_loss(model(x), y)
    loss.backward()
    o.step()  # expect: grad-not-zeroed

def fit(model, loader, o):
    for x, y in loader:
        train_step(model, o, x, y)

model = nn.Linear(4, 1)
fit(model, loader, torch.optim.SGD(model.parameters(), lr=0.1))
"""
STEP_METHOD = """
class Trainer:
    def __init__(self, model):
        self.model = model
        self.o = torch.optim.Adam(model.parameters())

    def step(self, x, y):
        F.mse_loss(self.model(x), y).backward()
        self.o.step()  # expect: grad-not-zeroed

    def fit(self, loader):
        for x, y in loader:
            self.step(x, y)
"""
STEP_FACTORY = """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 1)

    def forward(self, x):
        return self.fc(x)

def make(model):
    return torch.optim.SGD(model.parameters(), lr=0.1)

def run(model, u, loader):
    for x, y in loader:
        F.mse_loss(model(x), y).backward()
        u.step()  # expect: grad-not-zeroed

net = Net()
run(net, make(net), loader)
"""
ZERO_HELPER = """
def update(o):
    o.zero_grad()  # expect: zero-grad-misplaced
    o.step()

def fit(model, o, loader):
    for x, y in loader:
        F.mse_loss(model(x), y).backward()
        update(o)

model = nn.Linear(4, 1)
fit(model, torch.optim.SGD(model.parameters(), lr=0.1), loader)
"""
ZERO_METHOD = """
class Trainer:
    def __init__(self, model):
        self.model = model
        self.u = torch.optim.Adam(model.parameters())

    def _apply(self):
        self.u.zero_grad()  # expect: zero-grad-misplaced
        self.u.step()

    def fit(self, loader):
        for x, y in loader:
            F.mse_loss(self.model(x), y).backward()
            self._apply()
"""
SCHED_FACTORY = """
from torch.optim.lr_scheduler import StepLR

def make_schedule(o):
    return StepLR(o, step_size=30)

def fit(model, o, loader, s):
    for x, y in loader:
        o.zero_grad()
        F.mse_loss(model(x), y).backward()
        o.step()
        s.step()  # expect: scheduler-too-fast

model = nn.Linear(4, 1)
o = torch.optim.SGD(model.parameters(), lr=0.1)
fit(model, o, loader, make_schedule(o))
"""
SCHED_METHOD = """
class Trainer:
    def __init__(self, model):
        self.model = model
        self.o = torch.optim.SGD(model.parameters(), lr=0.1)
        self.s = torch.optim.lr_scheduler.CosineAnnealingLR(self.o, T_max=100)

    def after_batch(self):
        self.s.step()  # expect: scheduler-too-fast

    def fit(self, train_loader):
        for x, y in train_loader:
            self.o.zero_grad()
            F.mse_loss(self.model(x), y).backward()
            self.o.step()
            self.after_batch()
"""
NO_GRAD_DECORATOR = """
@torch.no_grad()
def train_step(model, opt, x, y):
    opt.zero_grad()
    loss = F.mse_loss(model(x), y)
    loss.backward()  # expect: no-grad-training
    opt.step()
"""
NO_GRAD_CALLER = """
def train_step(model, opt, x, y):
    opt.zero_grad()
    F.mse_loss(model(x), y).backward()  # expect: no-grad-training
    opt.step()

def run(model, opt, x, y):
    with torch.no_grad():
        train_step(model, opt, x, y)
"""
NO_GRAD_METHOD = """
class Learner:
    @torch.inference_mode()
    def learn(self, x, y):
        self.opt.zero_grad()
        self.loss(x, y).backward()  # expect: no-grad-training
        self.opt.step()
"""
BREAK_HELPER = """
def compute_loss(model, x, y):
    value = F.mse_loss(model(x), y).item()
    return torch.tensor(value)  # expect: graph-break

def fit(model, opt, x, y):
    opt.zero_grad()
    loss = compute_loss(model, x, y)
    loss.backward()
    opt.step()
"""
BREAK_METHOD = """
class Trainer:
    def loss_of(self, x, y):
        return F.mse_loss(self.model(x), y).detach()  # expect: graph-break

    def step(self, x, y):
        self.opt.zero_grad()
        loss = self.loss_of(x, y)
        loss.backward()
        self.opt.step()
"""
BREAK_CLASS = """
class Criterion(nn.Module):
    def forward(self, pred, y):
        return torch.tensor(F.mse_loss(pred, y).item())  # expect: graph-break

def fit(model, crit, opt, loader):
    for x, y in loader:
        opt.zero_grad()
        loss = crit(model(x), y)
        loss.backward()
        opt.step()

fit(model, Criterion(), opt, loader)
"""
JIT_METHOD = """
import jax

class Model:
    def trace(self, x):
        global CALLS
        CALLS += 1

    @jax.jit
    def __call__(self, x):
        self.trace(x)  # expect: jit-side-effect
        return x * 2
"""
DROPOUT_NET = """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 1))

    def forward(self, x):
        return self.body(x)
"""
PLAIN_NET = DROPOUT_NET.replace("nn.Dropout(0.5)", "nn.ReLU()")
EVAL_DECORATED = """
def train_epoch(model, opt, loader):
    for x, y in loader:
        opt.zero_grad()
        F.mse_loss(model(x), y).backward()
        opt.step()

@torch.no_grad()
def evaluate(net, loader):
    return sum(F.mse_loss(net(x), y) for x, y in loader)  # expect: eval-in-train-mode (warning)

model = Net()
opt = torch.optim.SGD(model.parameters(), lr=0.1)
for epoch in range(3):
    train_epoch(model, opt, loader)
    evaluate(model, val_loader)
"""
EVAL_CALLER = """
def train_epoch(model, opt, loader):
    for x, y in loader:
        opt.zero_grad()
        F.mse_loss(model(x), y).backward()
        opt.step()

def score(net, x):
    return net(x).mean()  # expect: eval-in-train-mode (warning)

model = Net()
opt = torch.optim.SGD(model.parameters(), lr=0.1)
for epoch in range(3):
    train_epoch(model, opt, loader)
    with torch.no_grad():
        score(model, xv)
"""
EVAL_METHOD = """
class Trainer:
    def __init__(self):
        self.model = Net()
        self.opt = torch.optim.SGD(self.model.parameters(), lr=0.1)

    def fit(self, loader):
        for x, y in loader:
            self.opt.zero_grad()
            F.mse_loss(self.model(x), y).backward()
            self.opt.step()

    @torch.no_grad()
    def validate(self, x):
        return self.model(x)  # expect: eval-in-train-mode (warning)
"""
TRAIN_IN_EVAL_FN = """
def train_epoch(model, opt, loader):
    for x, y in loader:
        opt.zero_grad()
        F.mse_loss(model(x), y).backward()
        opt.step()

def validate(net, loader):
    net.eval()  # expect: train-in-eval-mode
    with torch.no_grad():
        return sum(F.mse_loss(net(x), y) for x, y in loader)

model = Net()
opt = torch.optim.SGD(model.parameters(), lr=0.1)
for epoch in range(3):
    train_epoch(model, opt, loader)
    validate(model, val_loader)
"""
TRAIN_IN_EVAL_METHOD = """
class Trainer:
    def __init__(self):
        self.model = Net()
        self.opt = torch.optim.SGD(self.model.parameters(), lr=0.1)

    def train_epoch(self, loader):
        for x, y in loader:
            self.opt.zero_grad()
            F.mse_loss(self.model(x), y).backward()
            self.opt.step()

    def validate(self, x):
        self.model.eval()  # expect: train-in-eval-mode
        with torch.no_grad():
            return self.model(x)

    def fit(self, loader, xv):
        for epoch in range(3):
            self.train_epoch(loader)
            self.validate(xv)

Trainer().fit(loader, xv)
"""
FIT_HELPER = """
from sklearn.preprocessing import StandardScaler

def fit_scaler(data):
    return StandardScaler().fit(data)

scaler = fit_scaler(X_test)  # expect: test-fit-leakage
"""
FIT_METHOD = """
class Pipeline:
    def prepare(self, X_train, X_val):
        self.scaler.fit(X_val)  # expect: test-fit-leakage
        return self.scaler.transform(X_train)
"""
TIME_SPLIT = """
import pandas as pd
from sklearn.model_selection import train_test_split

def load(path):
    df = pd.read_csv(path)
    df["t"] = pd.to_datetime(df["t"])
    return df

class Splitter:
    def split(self, df):
        return train_test_split(df, test_size=0.2)  # expect: shuffled-time-split
"""
SQUEEZE_HELPER = """
def head(out):
    return out.squeeze()  # expect: squeeze-without-dim

def fit(model, criterion, x, y):
    pred = head(model(x))
    return criterion(pred, y)
"""
SQUEEZE_METHOD = """
class Trainer:
    def step(self, x, y):
        pred = self.model(x).squeeze()  # expect: squeeze-without-dim
        return self.loss_fn(pred, y)
"""
PRNG_HELPER = """
import jax

def noise(key, shape):
    return jax.random.normal(key, shape)

def sample(key):
    a = noise(key, (2,))
    b = jax.random.uniform(key, (2,))  # expect: prng-key-reuse
    return a + b
"""
PRNG_NESTED = """
import jax

def noise(k):
    return jax.random.normal(k, (2,))

def twice(key):
    return noise(key)

def sample(key):
    a = twice(key)
    b = noise(key)  # expect: prng-key-reuse
    return a + b
"""
JIT_HELPER = """
import jax

def log(x):
    print("value", x)

@jax.jit
def step(x):
    log(x)  # expect: jit-side-effect
    return x * 2
"""
LOAD_HELPER = """
class Checkpoints:
    def restore(self, path):
        return torch.load(path, weights_only=False)  # expect: unsafe-torch-load
"""
LOAD_FLAG = """
def restore(path, trusted):
    return torch.load(path, weights_only=trusted)  # expect: unsafe-torch-load

def resume(path):
    return restore(path, False)
"""
ZERO_FACTORY = """
def make(model):
    return torch.optim.SGD(model.parameters(), lr=0.1)

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 1)

    def forward(self, x):
        return self.fc(x)

def run(model, u, loader):
    for x, y in loader:
        F.mse_loss(model(x), y).backward()
        u.zero_grad()  # expect: zero-grad-misplaced
        u.step()

net = Net()
run(net, make(net), loader)
"""
PRNG_METHOD = """
import jax

class Sampler:
    def noise(self, key):
        return jax.random.normal(key, (2,))

    def sample(self, key):
        a = self.noise(key)
        return a + self.noise(key)  # expect: prng-key-reuse
"""
LEAF_HELPER = """
def update(p, lr):
    p -= lr * p.grad  # expect: inplace-on-leaf

w = torch.zeros(3, requires_grad=True)
for _ in range(10):
    (w * 2).sum().backward()
    update(w, 0.1)
"""
LEAF_METHOD_CALL = """
def decay(p):
    p.mul_(0.99)  # expect: inplace-on-leaf

w = torch.randn(3, requires_grad=True)
decay(w)
"""

CASES = {
    # double-softmax
    "double-softmax/class+factory+loop-function": (SOFTMAX_NET + TRAIN_FN, LOGITS_NET + TRAIN_FN),
    "double-softmax/method": (SOFTMAX_NET + TRAINER, LOGITS_NET + TRAINER),
    "double-softmax/sequential-factory+helper": (SEQ_HELPER, SEQ_HELPER.replace("nn.Softmax(dim=1)", "nn.ReLU()")),
    "double-softmax/class-wraps-sequential": (CLASS_WRAPS_SEQ, CLASS_WRAPS_SEQ.replace("nn.Softmax(dim=1)", "nn.Tanh()")),
    # double-sigmoid
    "double-sigmoid/class+factory+loop-function": (SIGMOID_NET + BCE_FN, LOGITS_NET + BCE_FN),
    "double-sigmoid/method": (SIGMOID_NET + BCE_TRAINER, LOGITS_NET + BCE_TRAINER),
    "double-sigmoid/helper-returns-sigmoid": (
        "def probs(m, x):\n    return torch.sigmoid(m(x))\n\n"
        "crit = nn.BCEWithLogitsLoss()\nloss = crit(probs(model, x), y)  # expect: double-sigmoid\n",
        "def probs(m, x):\n    return torch.sigmoid(m(x))\n\n"
        "crit = nn.BCEWithLogitsLoss()\nloss = crit(model(x), y)\nacc = (probs(model, x) > 0.5).float().mean()\n"),
    # nll-without-log-softmax
    "nll-without-log-softmax/class+factory+loop-function": (LOGITS_NET + NLL_FN, LOGSOFTMAX_NET + NLL_FN),
    "nll-without-log-softmax/method": (SOFTMAX_NET + NLL_TRAINER, LOGSOFTMAX_NET + NLL_TRAINER),
    # grad-not-zeroed
    "grad-not-zeroed/step-in-helper": (STEP_HELPER, STEP_HELPER.replace("    loss.backward()", "    o.zero_grad()\n    loss.backward()")),
    "grad-not-zeroed/method": (STEP_METHOD, STEP_METHOD.replace("        F.mse_loss(", "        self.o.zero_grad()\n        F.mse_loss(")),
    "grad-not-zeroed/class+factory-built-optimizer": (
        STEP_FACTORY, STEP_FACTORY.replace("        F.mse_loss(model(x), y).backward()", "        u.zero_grad()\n        F.mse_loss(model(x), y).backward()")),
    # zero-grad-misplaced
    "zero-grad-misplaced/helper": (ZERO_HELPER, ZERO_HELPER.replace("    o.zero_grad()  # expect: zero-grad-misplaced\n    o.step()", "    o.step()\n    o.zero_grad()")),
    "zero-grad-misplaced/method": (ZERO_METHOD, ZERO_METHOD.replace(
        "        self.u.zero_grad()  # expect: zero-grad-misplaced\n        self.u.step()", "        self.u.step()\n        self.u.zero_grad()")),
    # scheduler-too-fast
    "scheduler-too-fast/factory+loop-function": (SCHED_FACTORY, SCHED_FACTORY.replace("StepLR(o, step_size=30)", "StepLR(o, step_size=30 * len(loader))")),
    "scheduler-too-fast/method+helper": (SCHED_METHOD, SCHED_METHOD.replace("T_max=100", "T_max=100 * len(train_loader)")),
    # no-grad-training
    "no-grad-training/decorator": (NO_GRAD_DECORATOR, NO_GRAD_DECORATOR.replace("@torch.no_grad()", "@torch.enable_grad()")),
    "no-grad-training/decorator-without-parentheses": (
        NO_GRAD_DECORATOR.replace("@torch.no_grad()", "@torch.no_grad"),
        NO_GRAD_DECORATOR.replace("@torch.no_grad()\n", "").replace("    loss.backward()  # expect: no-grad-training",
                                                                   "    loss.backward()\n    with torch.no_grad():\n        model.weight.clamp_(-1, 1)")),
    "no-grad-training/caller-no-grad": (
        NO_GRAD_CALLER, NO_GRAD_CALLER.replace("def train_step(", "@torch.enable_grad()\ndef train_step(").replace("  # expect: no-grad-training", "")),
    "no-grad-training/method-decorator": (NO_GRAD_METHOD, NO_GRAD_METHOD.replace("@torch.inference_mode()", "@torch.enable_grad()")),
    # graph-break
    "graph-break/helper-rewraps": (BREAK_HELPER, BREAK_HELPER.replace(
        "    value = F.mse_loss(model(x), y).item()\n    return torch.tensor(value)  # expect: graph-break",
        "    value = F.mse_loss(model(x), y)\n    print(value.item())\n    return value")),
    "graph-break/method-detaches": (BREAK_METHOD, BREAK_METHOD.replace(".detach()  # expect: graph-break", "")),
    "graph-break/loss-class-forward": (BREAK_CLASS, BREAK_CLASS.replace("torch.tensor(F.mse_loss(pred, y).item())", "F.mse_loss(pred, y)")),
    "jit-side-effect/method": (JIT_METHOD, JIT_METHOD.replace("        global CALLS\n        CALLS += 1", "        return x")),
    # eval-in-train-mode
    "eval-in-train-mode/decorator+parameter": (DROPOUT_NET + EVAL_DECORATED, PLAIN_NET + EVAL_DECORATED.replace("  # expect: eval-in-train-mode (warning)", "")),
    "eval-in-train-mode/decorator-evaluated": (
        DROPOUT_NET + EVAL_DECORATED, DROPOUT_NET + EVAL_DECORATED.replace(
            "    return sum(F.mse_loss(net(x), y) for x, y in loader)  # expect: eval-in-train-mode (warning)",
            "    net.eval()\n    out = sum(F.mse_loss(net(x), y) for x, y in loader)\n    net.train()\n    return out")),
    "eval-in-train-mode/caller-no-grad": (DROPOUT_NET + EVAL_CALLER, PLAIN_NET + EVAL_CALLER.replace("  # expect: eval-in-train-mode (warning)", "")),
    "eval-in-train-mode/method": (DROPOUT_NET + EVAL_METHOD, PLAIN_NET + EVAL_METHOD.replace("  # expect: eval-in-train-mode (warning)", "")),
    # train-in-eval-mode
    "train-in-eval-mode/helper-in-epoch-loop": (
        DROPOUT_NET + TRAIN_IN_EVAL_FN, DROPOUT_NET + TRAIN_IN_EVAL_FN.replace("  # expect: train-in-eval-mode", "").replace(
            "    train_epoch(model, opt, loader)\n    validate(model, val_loader)", "    train_epoch(model, opt, loader)\nvalidate(model, val_loader)")),
    "train-in-eval-mode/model-without-mode-layers": (
        DROPOUT_NET + TRAIN_IN_EVAL_FN, PLAIN_NET + TRAIN_IN_EVAL_FN.replace("  # expect: train-in-eval-mode", "")),
    "train-in-eval-mode/method": (
        DROPOUT_NET + TRAIN_IN_EVAL_METHOD, DROPOUT_NET + TRAIN_IN_EVAL_METHOD.replace("  # expect: train-in-eval-mode", "").replace(
            "            self.train_epoch(loader)\n", "            self.model.train()\n            self.train_epoch(loader)\n")),
    # test-fit-leakage
    "test-fit-leakage/helper-fits-its-parameter": (FIT_HELPER, FIT_HELPER.replace("fit_scaler(X_test)  # expect: test-fit-leakage", "fit_scaler(X_train)")),
    "test-fit-leakage/method": (FIT_METHOD, FIT_METHOD.replace("self.scaler.fit(X_val)  # expect: test-fit-leakage", "self.scaler.fit(X_train)")),
    # shuffled-time-split
    "shuffled-time-split/two-functions+method": (TIME_SPLIT, TIME_SPLIT.replace("test_size=0.2)  # expect: shuffled-time-split", "test_size=0.2, shuffle=False)")),
    # squeeze-without-dim
    "squeeze-without-dim/helper": (SQUEEZE_HELPER, SQUEEZE_HELPER.replace("out.squeeze()  # expect: squeeze-without-dim", "out.squeeze(-1)")),
    "squeeze-without-dim/method-variable": (SQUEEZE_METHOD, SQUEEZE_METHOD.replace(".squeeze()  # expect: squeeze-without-dim", ".squeeze(1)")),
    # prng-key-reuse
    "prng-key-reuse/helper-consumes": (PRNG_HELPER, PRNG_HELPER.replace(
        "    a = noise(key, (2,))\n", "    key, sub = jax.random.split(key)\n    a = noise(sub, (2,))\n").replace("  # expect: prng-key-reuse", "")),
    "prng-key-reuse/two-levels": (PRNG_NESTED, PRNG_NESTED.replace(
        "    a = twice(key)\n", "    k1, key = jax.random.split(key)\n    a = twice(k1)\n").replace("  # expect: prng-key-reuse", "")),
    # jit-side-effect
    "jit-side-effect/helper-prints": (JIT_HELPER, JIT_HELPER.replace('    print("value", x)', "    return x + 1")),
    "jit-side-effect/partial-decorator+helper": (
        JIT_HELPER.replace("@jax.jit", "from functools import partial\n@partial(jax.jit, static_argnums=0)"),
        JIT_HELPER.replace("@jax.jit\n", "").replace("  # expect: jit-side-effect", "")),
    # unsafe-torch-load
    "unsafe-torch-load/method": (LOAD_HELPER, LOAD_HELPER.replace("weights_only=False)  # expect: unsafe-torch-load", "weights_only=True)")),
    "unsafe-torch-load/flag-from-caller": (LOAD_FLAG, LOAD_FLAG.replace("restore(path, False)", "restore(path, True)")),
    "zero-grad-misplaced/class+factory-built-optimizer": (ZERO_FACTORY, ZERO_FACTORY.replace(
        "        u.zero_grad()  # expect: zero-grad-misplaced\n        u.step()", "        u.step()\n        u.zero_grad()")),
    "prng-key-reuse/method": (PRNG_METHOD, PRNG_METHOD.replace(
        "        a = self.noise(key)\n", "        key, sub = jax.random.split(key)\n        a = self.noise(sub)\n")),
    # inplace-on-leaf
    "inplace-on-leaf/helper-updates-parameter": (LEAF_HELPER, LEAF_HELPER.replace("def update(", "@torch.no_grad()\ndef update(").replace("  # expect: inplace-on-leaf", "")),
    "inplace-on-leaf/caller-no-grad": (LEAF_HELPER, LEAF_HELPER.replace("    update(w, 0.1)", "    with torch.no_grad():\n        update(w, 0.1)").replace("  # expect: inplace-on-leaf", "")),
    "inplace-on-leaf/in-place-method": (LEAF_METHOD_CALL, LEAF_METHOD_CALL.replace("w = torch.randn(3, requires_grad=True)", "w = torch.randn(3)")),
}


def _check(text: str, code: str, kind: str) -> None:
    text = HEAD + textwrap.dedent(text)
    want = expected(text)
    found = lint_source(Source("train.py", text), Config())
    got = {(f.location["line"], f.code) for f in found}
    assert got == set(want), [(f.location["line"], f.code, f.observation) for f in found]
    for f in found:
        assert want[(f.location["line"], f.code)] in (None, f.severity), (f.location["line"], f.code, f.severity)
    own = [line for line, c in want if c == code]
    assert own if kind == "bad" else not own


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("kind", ["bad", "good"])
def test_spread_out_pattern(name, kind):
    bad, good = CASES[name]
    code = name.split("/")[0]
    assert good != bad
    if kind == "good":  # the look-alike is the bad case with the bug fixed: its own markers go
        good = re.sub(rf"\s*# expect: {code}(\s*\([a-z]+\))?", "", good)
    _check(bad if kind == "bad" else good, code, kind)


def test_every_rule_has_spread_out_cases():
    from traindoctor.lint.registry import all_rules

    assert {r.code for r in all_rules()} <= {name.split("/")[0] for name in CASES}


@pytest.mark.parametrize("tail, expect", [("F.softmax(self.fc(x), dim=1)", ["double-softmax"]), ("self.fc(x)", [])])
@pytest.mark.parametrize("imports", ["from .model import Net", "from model import Net"])
def test_a_model_class_imported_from_a_sibling_module_is_read(tmp_path, tail, expect, imports):
    from traindoctor.lint.engine import lint_paths

    (tmp_path / "model.py").write_text(HEAD + textwrap.dedent(f"""
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(4, 3)

            def forward(self, x):
                return {tail}
        """))
    (tmp_path / "train.py").write_text(HEAD + imports + "\n" + textwrap.dedent("""
        def fit(model, criterion, x, y):
            return criterion(model(x), y)

        fit(Net(), nn.CrossEntropyLoss(), x, y)
        """))
    report, problems = lint_paths([tmp_path / "train.py"], Config())
    assert problems == [] and [f.code for f in report.findings] == expect


def test_recursion_and_long_chains_resolve_to_unknown_without_error():
    chain = "x = model(x)\n" + "x = x.view(-1)\n" * 300 + "loss = F.cross_entropy(x, y)\n"
    recursive = "def f(n):\n    return f(n - 1)\n\ndef g(a):\n    return g(a)\n\nloss = F.cross_entropy(f(3), g(y))\n"
    for text in (chain, recursive):
        assert lint_source(Source("t.py", HEAD + text), Config()) == []


# Healthy code the data flow must not misread: each holds a value that *could* look like the bug
# on one path or under one reading.
HEALTHY_TRAPS = {
    "double-softmax/callers-disagree": SOFTMAX_NET + LOGITS_NET.replace("class Net", "class Logits") + """
def fit(model, x, y):
    return F.cross_entropy(model(x), y)

fit(Net(), x, y)
fit(Logits(), x, y)
""",
    "double-softmax/loop-variable-shadows-a-global": SOFTMAX_NET + """
model = Net()
for model in [nn.Linear(4, 3), nn.Linear(4, 3)]:
    loss = F.cross_entropy(model(x), y)
""",
    "double-softmax/softmax-on-one-branch": """
def predict(model, x, probs):
    return F.softmax(model(x), 1) if probs else model(x)

loss = F.cross_entropy(predict(model, x, False), y)
""",
    "no-grad-training/helper-called-with-and-without-grad": """
def run(model, opt, x, y, train):
    loss = F.mse_loss(model(x), y)
    if train:
        opt.zero_grad()
        loss.backward()
        opt.step()
    return loss

run(model, opt, x, y, True)
with torch.no_grad():
    run(model, opt, xv, yv, False)
""",
    "grad-not-zeroed/helper-zeroes-through-self": """
class Trainer:
    def reset(self):
        for p in self.model.parameters():
            p.grad = None

    def fit(self, loader):
        for x, y in loader:
            self.reset()
            F.mse_loss(self.model(x), y).backward()
            self.opt.step()
""",
    "eval-in-train-mode/unknown-callers": """
@torch.no_grad()
def evaluate(net, x):
    return net(x)

for x, y in loader:
    opt.zero_grad()
    F.mse_loss(model(x), y).backward()
    opt.step()
""",
    "train-in-eval-mode/final-test-after-training-function": DROPOUT_NET + """
def train(model, opt, loader):
    for x, y in loader:
        opt.zero_grad()
        F.mse_loss(model(x), y).backward()
        opt.step()

def test(net, x):
    net.eval()
    with torch.no_grad():
        return net(x)

def main():
    model = Net()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for epoch in range(3):
        train(model, opt, loader)
    test(model, xv)

main()
""",
    "graph-break/detached-on-one-path-only": """
def compute(model, x, y, log):
    loss = F.mse_loss(model(x), y)
    return loss.detach() if log else loss

def step(model, opt, x, y):
    opt.zero_grad()
    loss = compute(model, x, y, False)
    loss.backward()
    opt.step()
""",
}


@pytest.mark.parametrize("name", HEALTHY_TRAPS)
def test_healthy_code_the_flow_must_not_misread(name):
    _check(HEALTHY_TRAPS[name], name.split("/")[0], "good")


def test_helpers_calling_helpers_twice_stay_cheap():
    # each level calls the next twice: spliced naively, 2**30 copies of the innermost backward
    levels = "".join(f"def h{i}(model, opt):\n    h{i + 1}(model, opt)\n    h{i + 1}(model, opt)\n\n" for i in range(30))
    text = levels + "def h30(model, opt):\n    model.loss().backward()\n    opt.step()\n\nfor b in loader:\n    h0(model, opt)\n"
    found = lint_source(Source("t.py", HEAD + text), Config())
    assert [f.code for f in found] == ["grad-not-zeroed"]
