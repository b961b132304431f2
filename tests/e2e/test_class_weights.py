"""`traindoctor run`, default configuration: class weights that rise with the classes' frequency amplify the
imbalance they exist to counter — named whatever the loss's form; counter-weights, uniform weights and
weights on balanced classes are not."""
import pytest

from conftest import codes

PRELUDE = """
import torch, torch.nn as nn, torch.nn.functional as F
torch.manual_seed(0)
def labels(n, shares):
    return torch.multinomial(torch.tensor(shares), n, replacement=True)
"""

TABULAR = """
y = labels(4000, [0.8, 0.15, 0.05])
x = torch.randn(4000, 8) + F.one_hot(y, 3).float().repeat(1, 3)[:, :8] * 1.5
counts = torch.bincount(y, minlength=3).float()
weights = WEIGHTS
model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 3))
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
for step in range(120):
    i = (step * 64) % 4000
    loss = F.cross_entropy(model(x[i:i + 64]), y[i:i + 64], weight=weights)
    opt.zero_grad(); loss.backward(); opt.step()
"""

TAGGER = """
tags = labels(600 * 12, [0.7, 0.2, 0.06, 0.04]).view(600, 12)
tokens = tags * 5 + torch.randint(0, 5, (600, 12))
tags[:, 10:] = -100                                      # padding positions, ignored
freq = torch.tensor([0.7, 0.2, 0.06, 0.04])
criterion = nn.CrossEntropyLoss(weight=WEIGHTS, ignore_index=-100)
emb, head = nn.Embedding(20, 16), nn.Linear(16, 4)
opt = torch.optim.Adam([*emb.parameters(), *head.parameters()], lr=1e-2)
for step in range(100):
    i = (step * 24) % 600
    logits = head(emb(tokens[i:i + 24]))
    loss = criterion(logits.reshape(-1, 4), tags[i:i + 24].reshape(-1))
    opt.zero_grad(); loss.backward(); opt.step()
"""

NLL = """
y = labels(3000, [0.5, 0.3, 0.1, 0.06, 0.04])
x = torch.randn(3000, 10) + F.one_hot(y, 5).float().repeat(1, 2)
counts = torch.bincount(y, minlength=5).float()
weights = WEIGHTS
model = nn.Sequential(nn.Linear(10, 32), nn.Tanh(), nn.Linear(32, 5), nn.LogSoftmax(1))
opt = torch.optim.SGD(model.parameters(), lr=0.1)
for step in range(120):
    i = (step * 50) % 3000
    loss = F.nll_loss(model(x[i:i + 50]), y[i:i + 50], weight=weights)
    opt.zero_grad(); loss.backward(); opt.step()
"""

BROKEN = {
    "frequencies-as-weights": TABULAR.replace("WEIGHTS", "counts / counts.sum()"),
    "tagger-weighted-by-frequency": TAGGER.replace("WEIGHTS", "freq * 4"),
    "nll-weighted-by-counts": NLL.replace("WEIGHTS", "counts"),
}

HEALTHY = {
    "inverse-frequencies": TABULAR.replace("WEIGHTS", "counts.sum() / (3 * counts)"),
    "tagger-inverse": TAGGER.replace("WEIGHTS", "1 / (4 * freq)"),
    "nll-uniform": NLL.replace("WEIGHTS", "torch.ones(5)"),
    # Classes less than 3x apart: weighting them is a choice, not a correction gone wrong.
    "near-balanced-rising": TABULAR.replace("[0.8, 0.15, 0.05]", "[0.4, 0.33, 0.27]").replace(
        "WEIGHTS", "counts / counts.sum()"),
}


@pytest.mark.parametrize("name", BROKEN)
def test_weights_that_rise_with_frequency_are_named_first(run_code, name):
    report = run_code(PRELUDE + BROKEN[name])
    assert codes(report)[:1] == ["class-weights-inverted"], [(f.code, f.observation) for f in report.findings]


@pytest.mark.parametrize("name", HEALTHY)
def test_counter_weights_and_balanced_classes_are_not(run_code, name):
    report = run_code(PRELUDE + HEALTHY[name])
    assert "class-weights-inverted" not in codes(report, ("error", "warning", "info")), \
        [(f.code, f.observation) for f in report.findings]
