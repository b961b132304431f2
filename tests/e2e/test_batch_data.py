"""`traindoctor data`'s column rules on the batches a script feeds, in `run` (CLI and Python API with their
defaults) and in the Monitor (with a log_dir, as documented): one implementation (judge/columns.py) on
three producers. Broken data of several shapes — a feature with a few huge values, a sentinel code, a
constant input, targets in mixed units, one class holding nearly all labels — and healthy look-alikes:
standardised features, balanced labels, images, token ids, sequences of varying length."""
import json
import subprocess
import sys

import pytest
import torch
from torch import nn

from conftest import ROOT, codes
from traindoctor import Monitor
from traindoctor.measure import batches
from traindoctor.measure.batches import BATCH_CALLS, BATCH_ROWS, BatchColumns

PRELUDE = """
import torch, torch.nn as nn, torch.nn.functional as F
torch.manual_seed(0)
"""

REGRESSION = """
model = nn.Sequential(nn.Linear(X.shape[1], 32), nn.ReLU(), nn.Linear(32, y.shape[1]))
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
for epoch in range(3):
    for i in range(0, len(X), 64):
        loss = F.mse_loss(model(X[i:i + 64]), y[i:i + 64])
        opt.zero_grad(); loss.backward(); opt.step()
"""

CLASSES = """
model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 4))
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
for epoch in range(3):
    for i in range(0, len(X), 64):
        loss = F.cross_entropy(model(X[i:i + 64]), y[i:i + 64])
        opt.zero_grad(); loss.backward(); opt.step()
"""

BROKEN = {
    # a few rows of one feature 400x the rest, as a unit slip or a corrupted record leaves them
    "outliers": ("X = torch.randn(2000, 5); X[[7, 1200], 3] = 800.0\ny = X[:, :2] @ torch.ones(2, 1)\n" + REGRESSION,
                 "data-outliers"),
    # missing readings written as -999 on 3% of the rows of a positive measurement
    "sentinel": ("X = torch.rand(2000, 4) * 10 + 1; X[torch.arange(2000) % 33 == 0, 1] = -999.0\n"
                 "y = X[:, :1] * 0.5\n" + REGRESSION, "sentinel-values"),
    # positions in metres and headings in radians in one target, one unweighted MSE
    "target scales": ("X = torch.randn(2000, 6)\ny = torch.stack([X[:, 0] * 400, X[:, 1] * 0.3], 1)\n" + REGRESSION,
                      "target-scale-mismatch"),
    # class 0 holds 95% of the labels
    "imbalance": ("X = torch.randn(2000, 8)\ny = torch.where(torch.rand(2000) < 0.95, 0, torch.randint(1, 4, (2000,)))\n"
                  + CLASSES, "class-imbalance"),
}

HEALTHY = {
    "standardised": "X = torch.randn(2000, 5)\ny = X[:, :2] @ torch.ones(2, 1)\n" + REGRESSION,
    "heavy tails": "X = torch.distributions.StudentT(3.0).sample((2000, 5))\ny = X[:, :1].tanh()\n" + REGRESSION,
    "same-scale targets": "X = torch.randn(2000, 6)\ny = torch.stack([X[:, 0] * 2, X[:, 1] * 0.5], 1)\n" + REGRESSION,
    "balanced": "X = torch.randn(2000, 8)\ny = X[:, :4].argmax(1)\n" + CLASSES,
    "images": """
model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 3))
opt = torch.optim.Adam(model.parameters(), lr=3e-3)
x = torch.rand(512, 3, 16, 16); x[:, :, :2] = 0.0   # a black border, as padded crops have
y = x[:, :, 4:].mean((2, 3)).argmax(1)
for i in range(0, 512, 32):
    loss = F.cross_entropy(model(x[i:i + 32]), y[i:i + 32])
    opt.zero_grad(); loss.backward(); opt.step()
""",
    "a GAN's real batch fed again": """
G = nn.Linear(4, 10); D = nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 1))
model = D
og = torch.optim.Adam(G.parameters(), lr=1e-4); od = torch.optim.Adam(D.parameters(), lr=1e-4)
x = torch.randn(64, 10) * 3 + 1
for i in range(60):
    fake = G(torch.randn(64, 4))
    od.zero_grad()
    ld = F.binary_cross_entropy_with_logits(D(x), torch.ones(64, 1)) + \\
         F.binary_cross_entropy_with_logits(D(fake.detach()), torch.zeros(64, 1))
    ld.backward(); od.step()
    og.zero_grad()
    F.binary_cross_entropy_with_logits(D(fake), torch.ones(64, 1)).backward(); og.step()
""",
    "a language model's labels with ignored positions": """
emb, head = nn.Embedding(30, 16), nn.Linear(16, 30)
model = nn.Sequential(emb, nn.ReLU(), head)
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
for step in range(40):
    ids = torch.randint(1, 30, (16, 12))
    labels = ids.clone(); labels[:, 9:] = -100   # padding: skipped by the loss
    logits = model(ids)
    loss = F.cross_entropy(logits.reshape(-1, 30), labels.reshape(-1))
    opt.zero_grad(); loss.backward(); opt.step()
""",
    "TD targets of a target network": """
import copy
model = nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 2)); target_net = copy.deepcopy(model)
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
for step in range(120):
    s, s2, a = torch.randn(64, 4), torch.randn(64, 4), torch.randint(0, 2, (64, 1))
    r = torch.where(torch.rand(64) < 0.1, -1.0, 0.01); done = (r < 0).float()   # a terminal penalty, 10% of steps
    with torch.no_grad():
        y = r + 0.99 * target_net(s2).max(1).values * (1 - done)
    loss = F.mse_loss(model(s).gather(1, a).squeeze(1), y)
    opt.zero_grad(); loss.backward(); opt.step()
""",
    "a teacher's outputs as targets": """
teacher = nn.Sequential(nn.Linear(6, 32), nn.Tanh(), nn.Linear(32, 3))
model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3))
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
for step in range(100):
    x = torch.randn(64, 6)
    with torch.no_grad():
        soft = teacher(x) * torch.tensor([100.0, 1.0, 0.01])   # logits of very different scales
    loss = F.mse_loss(model(x), soft)
    opt.zero_grad(); loss.backward(); opt.step()
""",
    "tokens of varying length": """
emb, head = nn.Embedding(50, 16), nn.Linear(16, 50)
model = nn.Sequential(emb, nn.ReLU(), head)
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
for step in range(40):
    ids = torch.randint(0, 50, (16, 8 + step % 5))
    logits = model(ids[:, :-1])
    loss = F.cross_entropy(logits.reshape(-1, 50), ids[:, 1:].reshape(-1))
    opt.zero_grad(); loss.backward(); opt.step()
""",
}

RECURRENT = """
T, B, H = 15, 16, 24
class Cell(nn.Module):
    def __init__(self):
        super().__init__()
        self.ih, self.hh, self.out = nn.Linear(1, H), nn.Linear(H, H, bias=False), nn.Linear(H, 1)
    def forward(self, x, h):                                   # x: (B, T), h: (B, H)
        outs = []
        for t in range(x.shape[1]):
            h = torch.tanh(self.ih(x[:, t:t + 1]) + self.hh(h))
            outs.append(self.out(h))
        return torch.cat(outs, 1), h
cell = Cell(); opt = torch.optim.RMSprop(cell.parameters(), 1e-3)
h = torch.zeros(B, H)                                         # the state starts at zero, then carries on
for step in range(100):
    i = step * T
    pred, h = cell(signal[:, i:i + T], h)
    loss = F.mse_loss(pred, signal[:, i + 1:i + T + 1])
    opt.zero_grad(); loss.backward(); opt.step()
    h = h.detach()
"""
SIGNAL = "signal = torch.sin(torch.arange(6000).float() * 0.07).repeat(16, 1) + 0.1 * torch.randn(16, 6000)\n"
HEALTHY["a recurrent state fed back, zeros at first"] = SIGNAL + RECURRENT

DATA_CODES = {"data-outliers", "sentinel-values", "target-scale-mismatch", "class-imbalance", "rare-classes",
              "constant-feature", "missing-values"}


@pytest.mark.parametrize("name", BROKEN)
def test_broken_batches_are_named_by_run(run_code, name):
    source, code = BROKEN[name]
    r = run_code(PRELUDE + source)
    found = [f for f in r.findings if f.code == code]
    assert found and found[0].severity in ("warning", "error"), [(f.code, f.observation) for f in r.findings]
    assert found[0].source == "run" and found[0].evidence["rows_profiled"] == 2000
    assert found[0].evidence["batches_skipped"] == 0


@pytest.mark.parametrize("name", HEALTHY)
def test_healthy_batches_are_quiet(run_code, name):
    r = run_code(PRELUDE + HEALTHY[name])
    assert not set(codes(r)) & DATA_CODES, [(f.code, f.observation) for f in r.findings]


def test_a_sentinel_beside_a_recurrent_state_is_named_in_the_data_alone(run_code):
    r = run_code(PRELUDE + SIGNAL + "signal[:, ::45] = -999.0\n" + RECURRENT)  # a missing reading every 3 batches
    found = next(f for f in r.findings if f.code == "sentinel-values")
    assert "= -999" in found.observation and "`h[" not in found.observation, found.observation
    assert found.evidence["rows_profiled"] == 99 * 16  # profiled again once `h` came back: without the first call


def test_the_cli_with_its_defaults_names_the_outliers(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(PRELUDE + BROKEN["outliers"][0])
    out = subprocess.run([sys.executable, "-m", "traindoctor", "run", "--format", "json", str(script)], cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    report = json.loads(out.stdout)
    hit = [f for f in report["findings"] if f["code"] == "data-outliers"]
    assert hit and "`input[3]`" in hit[0]["observation"] and "800" in hit[0]["observation"], out.stdout[-2000:]
    assert hit[0]["severity"] == "warning" and out.returncode == 0  # the loss learns: a warning, exit status 0


def _monitored(tmp_path, x: torch.Tensor, y: torch.Tensor) -> dict:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(x.shape[1], 16), nn.ReLU(), nn.Linear(16, 1))
    opt = torch.optim.SGD(model.parameters(), lr=1e-2)
    with Monitor(model, opt, log_dir=tmp_path) as mon:
        for i in range(0, len(x), 32):
            opt.zero_grad()
            loss = nn.functional.mse_loss(model(x[i:i + 32]), y[i:i + 32])
            loss.backward()
            opt.step()
            mon.log(loss=loss)
    return json.loads((tmp_path / "report.json").read_text())


def test_the_monitor_with_a_log_dir_names_a_sentinel_code_and_is_quiet_on_clean_inputs(tmp_path):
    g = torch.Generator().manual_seed(1)
    x = torch.rand(6400, 4, generator=g) * 10 + 1
    y = x[:, :1] * 0.5
    clean = _monitored(tmp_path / "clean", x, y)
    assert not {f["code"] for f in clean["findings"]} & DATA_CODES, clean["findings"]
    x[torch.arange(6400) % 33 == 0, 2] = -999.0
    broken = _monitored(tmp_path / "broken", x, y)
    hit = [f for f in broken["findings"] if f["code"] == "sentinel-values"]
    assert hit and hit[0]["source"] == "monitor" and "`input[2]`" in hit[0]["observation"], broken["findings"]


def test_profiling_is_bounded_by_rows_and_copies_what_it_reads():
    seen = BatchColumns()
    model = nn.Linear(3, 1)
    for _ in range(2 * BATCH_ROWS // 1000 + 2):
        x = torch.randn(1000, 3)
        before = x.clone()
        seen.add_inputs("Linear", model, (x,), {})
        seen.add_target("mse_loss", x[:, :1])
        assert torch.equal(x, before)
    assert seen.inputs["Linear"].profile.rows == BATCH_ROWS == seen.targets["mse_loss"].profile.rows


def test_samples_fed_again_are_profiled_once_and_ignored_targets_not_at_all():
    seen = BatchColumns()
    model = nn.Linear(3, 1)
    x = torch.randn(64, 3)
    labels = torch.arange(64) % 4
    labels[::8] = -100  # what cross_entropy is told to skip: no label
    for step in range(30):  # one batch fed 30 times (a GAN's real batch, an overfitting check), new noise each time
        seen.add_inputs("Linear", model, (torch.cat([x, torch.randn(8, 3)]),), {})
        seen.add_target("cross_entropy", labels, ignore_index=-100)
    assert seen.inputs["Linear"].profile.rows == 64 + 30 * 8
    counts = seen.targets["cross_entropy"].profile.counts["target"][0].counts
    assert counts == {0.0: 8, 1.0: 16, 2.0: 16, 3.0: 16}  # one batch, once; -100 left out


def test_labels_flattened_for_the_loss_are_not_one_per_sample():
    mostly_zero = lambda *shape: torch.where(torch.rand(*shape) < 0.95, 0, torch.randint(1, 3, shape))  # noqa: E731
    flattened = {"mask (N, H, W)": mostly_zero(16, 8, 8).reshape(-1), "tokens (B, T)": mostly_zero(32, 20).view(-1),
                 "time-first tags (T, B)": mostly_zero(20, 32).flatten()}
    for name, target in flattened.items():
        seen = BatchColumns()
        seen.add_target("cross_entropy", target)
        assert not seen.targets, name
    per_sample = {"a column (N, 1) flattened": mostly_zero(256, 1).view(-1),
                  "a slice of the label vector": mostly_zero(4096)[:256]}
    for name, target in per_sample.items():
        seen = BatchColumns()
        seen.add_target("cross_entropy", target)
        assert seen.targets["cross_entropy"].profile.rows == 256, name


def test_a_small_dataset_fed_forever_is_looked_at_until_it_comes_round_again():
    seen = BatchColumns()
    x = torch.randn(32, 3)
    for _ in range(2000):
        seen.add_inputs("Linear", nn.Linear(3, 1), (x,), {})
    stream = seen.inputs["Linear"]
    assert stream.profile.rows == 32 and stream.calls == 2 and not seen.wants("inputs", "Linear")
    epochs = BatchColumns()  # 4 batches, reshuffled each epoch: the first batch of the second epoch ends it
    data = torch.randn(256, 3)
    for epoch in range(50):
        for batch in data[torch.randperm(256)].split(64):
            epochs.add_inputs("Linear", nn.Linear(3, 1), (batch,), {})
    assert epochs.inputs["Linear"].profile.rows == 256 and epochs.inputs["Linear"].calls == 5
    tokens = BatchColumns()  # a model fed only token ids profiles nothing, and stops being looked at
    for _ in range(BATCH_CALLS):
        assert tokens.wants("inputs", "Embedding")
        tokens.add_inputs("Embedding", nn.Embedding(10, 3), (torch.randint(0, 10, (8, 5)),), {})
    assert not tokens.inputs and not tokens.wants("inputs", "Embedding")


def test_a_reshaped_or_missing_column_skips_the_batch_not_the_column():
    seen = BatchColumns()
    model = nn.Bilinear(3, 3, 1)
    seen.add_inputs("Bilinear", model, (torch.randn(8, 3), torch.randn(8, 3)), {})
    seen.add_inputs("Bilinear", model, (torch.randn(8, 3), torch.randn(8, 5)), {})
    seen.add_inputs("Bilinear", model, (torch.randn(8, 3),), {})
    stream = seen.inputs["Bilinear"]
    assert stream.profile.rows == 8 and stream.skipped == 2
    assert set(stream.profile.layouts) == {"input1", "input2"}


def test_a_data_warning_is_an_error_once_the_loss_does_not_learn():
    from traindoctor.judge.columns import of_batches

    seen = BatchColumns()
    x = torch.randn(2000, 4)
    x[[3, 900], 1] = 1e4
    seen.add_inputs("Linear", nn.Linear(4, 1), (x,), {})
    assert [f.severity for f in of_batches(seen, "run")] == ["warning"]
    stuck = of_batches(seen, "run", "the loss stays near chance level")
    assert [f.severity for f in stuck] == ["error"] and stuck[0].observation.endswith("near chance level")


def _break_profiling(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("profile broke")

    monkeypatch.setattr(batches, "_add", broken)


def test_a_failure_while_profiling_stops_only_the_profiling(tmp_path, monkeypatch):
    _break_profiling(monkeypatch)
    g = torch.Generator().manual_seed(2)
    x = torch.rand(640, 4, generator=g)
    report = _monitored(tmp_path, x, x[:, :1])
    assert not report["summary"]["could_not_check"] and report["monitor"]["disabled"] is None
    assert report["monitor"]["notes"] == ["the data checks on the batches stopped: RuntimeError: profile broke"]


def test_a_failure_while_profiling_in_run_leaves_the_recording_and_the_other_rules(run_code, monkeypatch):
    _break_profiling(monkeypatch)
    r = run_code(PRELUDE + BROKEN["outliers"][0])
    section = r.sections["run"]
    assert section["stopped"] == "completed" and section["steps"] > 0
    assert section["internal_errors"] == ["batch data rules failed: RuntimeError: profiling the batches stopped: "
                                          "RuntimeError: profile broke"]
    assert "unnormalized-inputs" in codes(r)  # the run's own rules still judged the recording
