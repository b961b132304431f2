"""`traindoctor run` on programs whose loss falls while the pairing of inputs and targets is lost — in part (one
target component not transformed with the input) or as a whole (inputs and targets shuffled apart, the loss
falling as the model learns the targets' mean) — and on a look-alike whose hard component is paired."""
import pytest

from conftest import codes

PRELUDE = """
import torch, torch.nn as nn, torch.nn.functional as F
torch.manual_seed(0)
x_all = torch.randn(2048, 8)
"""

BROKEN = {
    # Inputs mirrored (x -> -x on the first two features) for half of each batch; the first target, their
    # sum, is not negated with them: it no longer follows the inputs, the second still does.
    "component-not-mirrored": """
y_all = torch.stack([x_all[:, 0] + x_all[:, 1], torch.tanh(x_all[:, 2] - x_all[:, 3])], 1)
model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 2))
opt = torch.optim.Adam(model.parameters(), lr=3e-3)
for step in range(150):
    idx = torch.randint(0, 2048, (64,))
    x, y = x_all[idx].clone(), y_all[idx]
    flip = torch.rand(64) < 0.5
    x[flip, :2] = -x[flip, :2]
    loss = F.mse_loss(model(x), y)
    opt.zero_grad(); loss.backward(); opt.step()
""",
    # Noisy and clean signals drawn by two separate shuffles (two loaders): the loss falls as the residual
    # denoiser learns to shrink its output towards the clean signals' mean, and no further.
    "two-shuffles": """
class Denoiser(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Conv1d(1, 16, 5, padding=2), nn.ReLU(), nn.Conv1d(16, 1, 5, padding=2))
    def forward(self, x):
        return x + self.net(x)
t = torch.linspace(0, 1, 64)
clean = ((0.5 + torch.rand(1024, 1)) * torch.sin(20 * t + 6 * torch.rand(1024, 1)))[:, None]
noisy = clean + 0.4 * torch.randn(1024, 1, 64)
model = Denoiser()
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
for epoch in range(5):
    xs, ys = noisy[torch.randperm(1024)], clean[torch.randperm(1024)]
    for i in range(0, 1024, 32):
        loss = F.mse_loss(model(xs[i:i + 32]), ys[i:i + 32])
        opt.zero_grad(); loss.backward(); opt.step()
""",
}

HEALTHY = """
# Mirrored with its target, and the second target mostly noise — hard, but paired.
y_all = torch.stack([x_all[:, 0] + x_all[:, 1], 0.3 * x_all[:, 2] + torch.randn(2048)], 1)
model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 2))
opt = torch.optim.Adam(model.parameters(), lr=3e-3)
for step in range(150):
    idx = torch.randint(0, 2048, (64,))
    x, y = x_all[idx].clone(), y_all[idx].clone()
    flip = torch.rand(64) < 0.5
    x[flip, :2] = -x[flip, :2]
    y[flip, 0] = -y[flip, 0]
    loss = F.mse_loss(model(x), y)
    opt.zero_grad(); loss.backward(); opt.step()
"""


@pytest.mark.parametrize("name", BROKEN)
def test_a_lost_pairing_is_found_while_the_loss_learns(run_code, name):
    r = run_code(PRELUDE + BROKEN[name])
    assert codes(r)[:1] == ["labels-decoupled"], codes(r)


def test_a_hard_but_paired_component_stays_quiet(run_code):
    r = run_code(PRELUDE + HEALTHY)
    assert codes(r) == [], codes(r)
