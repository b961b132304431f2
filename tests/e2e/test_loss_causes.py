"""`traindoctor run` in its default configuration names two loss-side root causes first: padding the
loss counts, and a regression loss written by hand whose prediction a sigmoid bounds below its
targets; the same scripts fixed stay quiet."""

import pytest

from conftest import codes

# Words padded to 24 positions with PAD = 3 (not 0), each letter following from the one before; the
# loss is chosen by LOSS.
PADDED_LM = """
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
PAD, BOS, EOS, V, L = 3, 1, 2, 20, 24
rows = []
for _ in range(512):
    n = int(torch.randint(3, 8, ()))
    start = int(torch.randint(0, V - 4, ()))
    word = [BOS] + [4 + (start + 3 * k) % (V - 4) for k in range(n)] + [EOS]
    rows.append(word + [PAD] * (L - len(word)))
data = torch.tensor(rows)


class LM(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(V, 32)
        self.rnn = nn.GRU(32, 64, batch_first=True)
        self.out = nn.Linear(64, V)

    def forward(self, x):
        return self.out(self.rnn(self.emb(x))[0])


model = LM()
opt = torch.optim.Adam(model.parameters(), lr=3e-3)
for epoch in range(4):
    for i in range(0, len(data), 32):
        batch = data[i:i + 32]
        inp, tgt = batch[:, :-1], batch[:, 1:]
        logits = model(inp)
        LOSS
        opt.zero_grad()
        loss.backward()
        opt.step()
"""
COUNTED = "loss = nn.CrossEntropyLoss()(logits.reshape(-1, V), tgt.reshape(-1))"
IGNORED = "loss = nn.CrossEntropyLoss(ignore_index=PAD)(logits.reshape(-1, V), tgt.reshape(-1))"
AVERAGED = "loss = F.cross_entropy(logits.reshape(-1, V), tgt.reshape(-1), reduction='none').mean()"
MASKED = ("per = F.cross_entropy(logits.reshape(-1, V), tgt.reshape(-1), reduction='none'); "
          "mask = (tgt != PAD).reshape(-1).float(); loss = (per * mask).sum() / mask.sum()")

# A temperature in [0, 40] regressed with a loss written by hand; the head is chosen by HEAD.
REGRESSION = """
import torch
import torch.nn as nn

torch.manual_seed(0)
x = torch.randn(800, 6)
y = (20 + 8 * x[:, :1] - 3 * x[:, 1:2] ** 2).clamp(0, 40)
net = nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Linear(32, 1), HEAD)
opt = torch.optim.Adam(net.parameters(), lr=1e-2)
for epoch in range(8):
    for i in range(0, 800, 40):
        loss = ((net(x[i:i + 40]) - y[i:i + 40]) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
"""


@pytest.mark.parametrize("loss", [COUNTED, AVERAGED], ids=["criterion", "reduced-by-hand"])
def test_padding_counted_by_the_loss_is_named_first(run_code, loss):
    report = run_code(PADDED_LM.replace("LOSS", loss))
    first = report.findings[0]
    assert first.code == "padding-in-loss" and first.explained_by is None, codes(report)
    assert first.evidence["pad_value"] == 3 and first.evidence["counted_share"] > 0.5
    where = "        LOSS" if loss == COUNTED else "        loss.backward()"  # the call, or the backward of its graph
    assert first.location["line"] == PADDED_LM.split("\n").index(where) + 1


def test_padding_ignored_or_masked_by_hand_is_quiet(run_code):
    for loss in (IGNORED, MASKED):
        assert codes(run_code(PADDED_LM.replace("LOSS", loss))) == []


def test_sigmoid_head_below_hand_written_regression_targets_is_named_first(run_code):
    report = run_code(REGRESSION.replace("HEAD", "nn.Sigmoid()"))
    first = report.findings[0]
    assert first.code == "output-range-mismatch" and first.explained_by is None, codes(report)
    assert first.evidence["producer"] == "SigmoidBackward0" and first.evidence["max"] > 30


def test_unbounded_head_on_the_same_targets_is_quiet(run_code):
    assert codes(run_code(REGRESSION.replace("HEAD", "nn.Identity()"))) == []
