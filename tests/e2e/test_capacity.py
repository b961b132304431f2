"""`traindoctor run`, default configuration: a layer every sample's output passes through, narrower than the
directions the targets vary in, is named — an autoencoder's latent, a regression's hidden layer, a conv
autoencoder's code; layers with a way around them, wide enough ones, and class labels are not."""
import pytest

from conftest import codes

PRELUDE = """
import torch, torch.nn as nn, torch.nn.functional as F
torch.manual_seed(0)
factors = torch.randn(1024, 4)
data = torch.tanh(factors @ torch.randn(4, 32)) @ torch.randn(32, 24) / 4   # 24 values on 4 factors
"""

AUTOENCODER = """
model = nn.Sequential(nn.Linear(24, 64), nn.ReLU(), nn.Linear(64, LATENT), nn.Linear(LATENT, 64), nn.ReLU(),
                      nn.Linear(64, 24))
opt = torch.optim.Adam(model.parameters(), lr=2e-3)
for step in range(120):
    i = (step * 64) % 1024
    loss = F.mse_loss(model(data[i:i + 64]), data[i:i + 64])
    opt.zero_grad(); loss.backward(); opt.step()
"""

REGRESSION = """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b, self.c = nn.Linear(24, 32), nn.Linear(32, WIDTH), nn.Linear(WIDTH, 6)
    def forward(self, x):
        h = self.b(F.relu(self.a(x)))
        return self.c(F.relu(h)) SKIP
targets = factors @ torch.randn(4, 6) + 0.3 * torch.randn(1024, 6)   # six values, four directions and noise
model = Net(); opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
for step in range(120):
    i = (step * 64) % 1024
    loss = F.mse_loss(model(data[i:i + 64]), targets[i:i + 64])
    opt.zero_grad(); loss.backward(); opt.step()
"""

CONV_AUTOENCODER = """
basis = torch.randn(12, 1, 8, 8)
images = (torch.randn(512, 12, 1, 1, 1) * basis).sum(1)              # 8x8 images from 12 patterns
class AE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(512, CODE))
        self.dec = nn.Sequential(nn.Linear(CODE, 512), nn.ReLU(), nn.Unflatten(1, (8, 8, 8)), nn.Conv2d(8, 1, 3, padding=1))
    def forward(self, x):
        return self.dec(self.enc(x))
model = AE(); opt = torch.optim.Adam(model.parameters(), lr=1e-3)
for step in range(80):
    i = (step * 32) % 512
    loss = F.mse_loss(model(images[i:i + 32]), images[i:i + 32])
    opt.zero_grad(); loss.backward(); opt.step()
"""

BROKEN = {
    "autoencoder-latent-of-one": AUTOENCODER.replace("LATENT", "1"),
    "regression-through-one-unit": REGRESSION.replace("WIDTH", "1").replace(" SKIP", ""),
    "conv-autoencoder-code-of-two": CONV_AUTOENCODER.replace("CODE", "2"),
}

HEALTHY = {
    "autoencoder-latent-of-eight": AUTOENCODER.replace("LATENT", "8"),
    "regression-one-unit-with-a-skip": REGRESSION.replace("WIDTH", "1").replace(
        " SKIP", " + self.a(x)[:, :6]"),
    "regression-wide-enough": REGRESSION.replace("WIDTH", "6").replace(" SKIP", ""),
    "conv-autoencoder-code-of-twelve": CONV_AUTOENCODER.replace("CODE", "12"),
    # One value per time step, called once per step: the layer is reused, not a cut (a sequence of 20
    # values forecast step by step through a width-1 read-out).
    "read-out-called-per-time-step": """
series = torch.sin(torch.linspace(0, 60, 4000)).unfold(0, 21, 7)            # (571, 21)
cell, out = nn.LSTMCell(1, 32), nn.Linear(32, 1)
opt = torch.optim.Adam([*cell.parameters(), *out.parameters()], lr=1e-2)
class Model(nn.Module):
    def __init__(self):
        super().__init__(); self.cell, self.out = cell, out
    def forward(self, x):
        h = c = torch.zeros(len(x), 32); ys = []
        for t in range(x.shape[1]):
            h, c = self.cell(x[:, t:t + 1], (h, c)); ys.append(self.out(h))
        return torch.cat(ys, 1)
model = Model()
for step in range(60):
    i = (step * 64) % 500
    loss = F.mse_loss(model(series[i:i + 64, :20]), series[i:i + 64, 1:])
    opt.zero_grad(); loss.backward(); opt.step()
""",
    # Class labels need no width: a one-unit score orders four classes.
    "classifier-through-one-unit": """
y = factors[:, 0].bucketize(torch.tensor([-0.7, 0.0, 0.7]))
model = nn.Sequential(nn.Linear(24, 32), nn.ReLU(), nn.Linear(32, 1), nn.Linear(1, 4))
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
for step in range(120):
    i = (step * 64) % 1024
    loss = F.cross_entropy(model(data[i:i + 64]), y[i:i + 64])
    opt.zero_grad(); loss.backward(); opt.step()
""",
}


@pytest.mark.parametrize("name", BROKEN)
def test_a_layer_narrower_than_the_targets_is_named_first(run_code, name):
    report = run_code(PRELUDE + BROKEN[name])
    assert codes(report)[:1] == ["capacity-bottleneck"], [(f.code, f.observation) for f in report.findings]


@pytest.mark.parametrize("name", HEALTHY)
def test_layers_with_a_way_around_or_wide_enough_are_not_bottlenecks(run_code, name):
    report = run_code(PRELUDE + HEALTHY[name])
    assert "capacity-bottleneck" not in codes(report, ("error", "warning", "info")), \
        [(f.code, f.observation) for f in report.findings]
