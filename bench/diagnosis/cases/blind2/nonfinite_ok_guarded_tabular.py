# source: https://github.com/aymericdamien/TensorFlow-Examples/issues/383
# expect: healthy
# category: tabular
# bug: healthy - standardisation guards a zero std (a constant column becomes 0, not NaN) and the hand-written BCE clamps the probability before log
import numpy as np
import torch
import torch.nn as nn

rng = np.random.default_rng(8)
torch.manual_seed(8)

n = 3000
age = rng.normal(45, 12, n)
income = rng.lognormal(10.5, 0.4, n)
visits = rng.poisson(3, n).astype(float)
region_code = np.full(n, 3.0)                  # single-region extract
cols = np.stack([age, np.log(income), visits, region_code], 1).astype(np.float32)
z = 0.15 * (age - 45) + 4.0 * (np.log(income) - 10.5) + 0.9 * (visits - 3)
bought = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(np.float32)

mu = cols.mean(0)
sd = cols.std(0)
cols = (cols - mu) / np.maximum(sd, 1e-6)

X = torch.from_numpy(cols)
y = torch.from_numpy(bought)


class Scorer(nn.Module):
    def __init__(self):
        super().__init__()
        self.l1 = nn.Linear(4, 32)
        self.l2 = nn.Linear(32, 1)

    def forward(self, x):
        return torch.sigmoid(self.l2(torch.relu(self.l1(x)))).squeeze(1)


def log_loss(p, t, eps=1e-6):
    p = p.clamp(eps, 1 - eps)
    return -(t * torch.log(p) + (1 - t) * torch.log(1 - p)).mean()


model = Scorer()
opt = torch.optim.Adam(model.parameters(), lr=1e-2)

for it in range(300):
    idx = torch.from_numpy(rng.integers(0, 2400, 128))
    loss = log_loss(model(X[idx]), y[idx])
    opt.zero_grad()
    loss.backward()
    opt.step()
    if it % 30 == 0:
        print(f"it {it} logloss {loss.item():.4f}")
with torch.no_grad():
    acc = ((model(X[2400:]) > 0.5).float() == y[2400:]).float().mean()
print(f"holdout acc {acc.item():.3f}")
