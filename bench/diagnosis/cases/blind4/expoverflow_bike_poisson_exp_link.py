# source: PyTorch forum "Poisson regression loss becomes nan" / Stack Overflow "NaN loss in Poisson regression with exp output" — exp link on an unconstrained network output with count targets in the hundreds
# expect: exploding-gradients, loss-divergence, nonfinite-forward
# category: regression
# bug: BikeDemandNet.rate() returns torch.exp(raw_output) with no bound; with hourly counts up to ~900 the early SGD steps overshoot, exp() blows the rate up to ~1e5 (NLL 3e5), the gradient (rate - y) explodes and throws the net into a region where exp(raw)~0 with dead ReLUs, so the model never recovers
import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(12)
np.random.seed(12)


def make_bike_sharing(n, rng):
    hour = rng.integers(0, 24, n)
    weekday = rng.integers(0, 7, n)
    temp = rng.uniform(-5, 35, n)
    hum = rng.uniform(0.2, 1.0, n)
    wind = rng.gamma(2.0, 4.0, n)
    workday = (weekday < 5).astype(float)
    commute = workday * (np.exp(-0.5 * ((hour - 8) / 1.2) ** 2) + 1.2 * np.exp(-0.5 * ((hour - 17.5) / 1.5) ** 2))
    leisure = (1 - workday) * np.exp(-0.5 * ((hour - 14) / 3.0) ** 2)
    log_mu = (3.0 + 2.0 * commute + 1.6 * leisure + 0.05 * temp - 0.0012 * (temp - 22) ** 2
              - 1.0 * np.maximum(hum - 0.8, 0) * 5 - 0.02 * wind)
    counts = rng.poisson(np.exp(log_mu))
    feats = np.stack([
        np.sin(2 * np.pi * hour / 24), np.cos(2 * np.pi * hour / 24),
        np.sin(2 * np.pi * weekday / 7), np.cos(2 * np.pi * weekday / 7),
        workday, (temp - 15) / 10, (hum - 0.6) / 0.25, (wind - 8) / 5.6,
    ], 1)
    return feats.astype(np.float32), counts.astype(np.float32)


class BikeDemandNet(nn.Module):
    def __init__(self, d_in=8, width=64):
        super().__init__()
        self.body = nn.Sequential(
            nn.Linear(d_in, width), nn.ReLU(),
            nn.Linear(width, width), nn.ReLU(),
            nn.Linear(width, 1),
        )

    def rate(self, x):
        return torch.exp(self.body(x)).squeeze(-1)

    def forward(self, x):
        return self.rate(x)


def poisson_nll(rate, y):
    return (rate - y * torch.log(rate + 1e-8)).mean()


rng = np.random.default_rng(12)
X, y = make_bike_sharing(12000, rng)
print(f"count stats: mean {y.mean():.1f}, max {y.max():.0f}")
Xtr, ytr, Xte, yte = map(torch.from_numpy, (X[:10000], y[:10000], X[10000:], y[10000:]))
loader = DataLoader(TensorDataset(Xtr, ytr), batch_size=100, shuffle=True)
model = BikeDemandNet()
opt = torch.optim.SGD(model.parameters(), lr=5e-3, momentum=0.9)
for epoch in range(1, 13):
    tot = 0.0
    for step, (xb, yb) in enumerate(loader):
        loss = poisson_nll(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        tot += loss.item()
        if epoch == 1 and (step < 5 or step % 20 == 0):
            print(f"  step {step:3d} nll {loss.item():.3f}")
    with torch.no_grad():
        pred = model(Xte)
        mae = (pred - yte).abs().mean().item()
    print(f"epoch {epoch:2d} train_nll {tot / len(loader):.3f} test_mae {mae:.2f}")
