"""`traindoctor run`, default configuration, on loops that update the weights by hand: an update that climbs
the gradient is named whatever its form; descending ones (plain, momentum, sign-based, accumulated) are not."""
import pytest

from conftest import codes

PRELUDE = """
import torch, torch.nn as nn, torch.nn.functional as F
torch.manual_seed(0)
"""

CLIMBING = {
    "plus-equals-gradient": """
x = torch.randn(256, 5); y = (x[:, 0] > 0).long()
model = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 2))
for step in range(40):
    i = (step * 32) % 256
    loss = F.cross_entropy(model(x[i:i + 32]), y[i:i + 32])
    model.zero_grad(); loss.backward()
    with torch.no_grad():
        for p in model.parameters():
            p += 0.05 * p.grad
""",
    "momentum-with-negative-lr": """
x = torch.rand(128, 1, 8, 8); y = x.mean((1, 2, 3)) * 4
model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 36, 1))
velocity = [torch.zeros_like(p) for p in model.parameters()]
lr = -0.01
for step in range(40):
    i = (step * 16) % 128
    loss = ((model(x[i:i + 16]).squeeze(1) - y[i:i + 16]) ** 2).mean()
    for p in model.parameters():
        p.grad = None
    loss.backward()
    with torch.no_grad():
        for p, v in zip(model.parameters(), velocity):
            v.mul_(0.9).add_(p.grad)
            p.sub_(lr * v)
""",
    "data-add-on-an-rnn": """
rnn = nn.GRU(3, 8, batch_first=True); head = nn.Linear(8, 1)
model = nn.ModuleDict({"rnn": rnn, "head": head})
x = torch.randn(64, 12, 3); y = x.sum((1, 2)).unsqueeze(1) / 6
def forward(xb): return model["head"](model["rnn"](xb)[0][:, -1])
for step in range(40):
    i = (step * 8) % 64
    loss = F.mse_loss(forward(x[i:i + 8]), y[i:i + 8])
    loss.backward()
    for p in model.parameters():
        p.data.add_(p.grad, alpha=0.02)
        p.grad.zero_()
""",
}

DESCENDING = {
    "plain-sgd": CLIMBING["plus-equals-gradient"].replace("p += 0.05 * p.grad", "p -= 0.05 * p.grad"),
    "momentum": CLIMBING["momentum-with-negative-lr"].replace("lr = -0.01", "lr = 0.01"),
    "sign-updates": CLIMBING["data-add-on-an-rnn"].replace(
        "p.data.add_(p.grad, alpha=0.02)", "p.data.add_(p.grad.sign(), alpha=-0.002)"),
    "accumulated-over-four-backwards": """
x = torch.randn(256, 5); y = (x[:, 0] > 0).long()
model = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 2))
for step in range(60):
    i = (step * 16) % 256
    (F.cross_entropy(model(x[i:i + 16]), y[i:i + 16]) / 4).backward()
    if step % 4 == 3:
        with torch.no_grad():
            for p in model.parameters():
                p -= 0.1 * p.grad
                p.grad = None
""",
}


@pytest.mark.parametrize("name", CLIMBING)
def test_an_update_up_the_gradient_is_named(run_code, name):
    r = run_code(PRELUDE + CLIMBING[name])
    assert codes(r)[:1] == ["loss-sign-flipped"], codes(r)


@pytest.mark.parametrize("name", DESCENDING)
def test_descending_updates_are_not(run_code, name):
    r = run_code(PRELUDE + DESCENDING[name])
    assert "loss-sign-flipped" not in codes(r), codes(r)
    assert r.unchecked  # no optimizer to read the update sizes from: still said
