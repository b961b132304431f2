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


# ── tensors outside the module tree ───────────────────────────────────────────
LOOSE = {
    "plain-attribute": """
class Scaled(nn.Module):
    def __init__(self):
        super().__init__(); self.lin = nn.Linear(5, 3); self.scale = torch.ones(3, requires_grad=True)
    def forward(self, x): return self.lin(x) * self.scale
model = Scaled(); opt = torch.optim.Adam(model.parameters(), lr=1e-2)
x = torch.randn(64, 5); y = torch.randint(0, 3, (64,))
for i in range(60):
    loss = F.cross_entropy(model(x), y); opt.zero_grad(); loss.backward(); opt.step()
""",
    "global-embedding-table": """
table = torch.randn(50, 8, requires_grad=True)
head = nn.Linear(8, 2); opt = torch.optim.SGD(head.parameters(), lr=0.1)
ids = torch.randint(0, 50, (256,)); y = (ids % 2)
for i in range(60):
    j = (i * 32) % 256
    loss = F.cross_entropy(head(table[ids[j:j + 32]]), y[j:j + 32]); opt.zero_grad(); loss.backward(); opt.step()
""",
    "list-of-tensors": """
weights = [torch.randn(6, 6, requires_grad=True) * 0.3 for _ in range(2)]
weights = [w.detach().requires_grad_() for w in weights]
out = nn.Linear(6, 1); opt = torch.optim.Adam(out.parameters(), lr=1e-2)
x = torch.randn(128, 6); y = x.sum(1, keepdim=True)
for i in range(60):
    h = x
    for w in weights:
        h = torch.tanh(h @ w)
    loss = F.mse_loss(out(h), y); opt.zero_grad(); loss.backward(); opt.step()
""",
}

LOOSE_HEALTHY = {
    "adversarial-inputs": """
model = nn.Linear(5, 3); opt = torch.optim.SGD(model.parameters(), lr=1e-2)
x = torch.randn(64, 5); y = torch.randint(0, 3, (64,))
for i in range(60):
    xa = x.clone().requires_grad_()
    loss = F.cross_entropy(model(xa), y); opt.zero_grad(); loss.backward()
    x_adv = (xa + 0.01 * xa.grad.sign()).detach()
    loss2 = F.cross_entropy(model(x_adv), y); opt.zero_grad(); loss2.backward(); opt.step()
""",
    "plain-tensor-in-the-optimizer": LOOSE["plain-attribute"].replace(
        "torch.optim.Adam(model.parameters(), lr=1e-2)", "torch.optim.Adam([*model.parameters(), model.scale], lr=1e-2)"),
    "plain-tensor-updated-by-hand": LOOSE["global-embedding-table"].replace(
        "opt.step()\n", "opt.step()\n    with torch.no_grad(): table -= 0.1 * table.grad; table.grad = None\n"),
}


@pytest.mark.parametrize("name", LOOSE)
def test_a_tensor_outside_the_modules_that_no_optimizer_updates(run_code, name):
    r = run_code(PRELUDE + LOOSE[name], experiments_=False)
    assert "params-not-in-optimizer" in codes(r), codes(r)


@pytest.mark.parametrize("name", LOOSE_HEALTHY)
def test_tensors_outside_the_modules_that_are_updated_or_new_each_step(run_code, name):
    r = run_code(PRELUDE + LOOSE_HEALTHY[name], experiments_=False)
    assert "params-not-in-optimizer" not in codes(r), codes(r)
