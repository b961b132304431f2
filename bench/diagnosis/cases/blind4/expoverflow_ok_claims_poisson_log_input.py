# source: PyTorch docs for torch.nn.PoissonNLLLoss (log_input=True computes exp(input) - target*input) and the CAS/insurance frequency-GLM practice of an exposure offset; cf. Stack Overflow "Poisson regression in PyTorch: log_input True or False?"
# expect: healthy
# category: tabular
# bug: none - the network outputs a log-rate and the loss is poisson_nll_loss(log_input=True) with a log-exposure offset; exp() only appears inside the loss and for reporting, the output bias starts at log(mean frequency), and Adam keeps the log-rate in a sane range
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(14)
np.random.seed(14)


def motor_claims(n, rng):
    """French-MTPL-like frequency table: claim counts with policy exposure (years)."""
    driver_age = rng.uniform(18, 85, n)
    veh_age = rng.integers(0, 20, n)
    bonus = rng.uniform(50, 150, n)
    density = rng.lognormal(5, 1.5, n)
    power = rng.integers(4, 15, n)
    exposure = rng.uniform(0.1, 1.0, n)
    log_freq = (-1.6 + 1.5 * np.exp(-(driver_age - 18) / 8) + 0.025 * (bonus - 100)
                + 0.25 * (np.log(density) - 5) + 0.08 * (power - 8) - 0.04 * veh_age)
    counts = rng.poisson(np.exp(log_freq) * exposure)
    X = np.stack([(driver_age - 45) / 18, (veh_age - 10) / 6, (bonus - 100) / 29,
                  (np.log(density) - 5) / 1.5, (power - 9) / 3], 1)
    return X.astype(np.float32), counts.astype(np.float32), exposure.astype(np.float32)


class FrequencyNet(nn.Module):
    def __init__(self, d_in=5, width=48, base_log_rate=-2.0):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(d_in, width), nn.ELU(), nn.Linear(width, width), nn.ELU(), nn.Linear(width, 1))
        nn.init.constant_(self.net[-1].bias, base_log_rate)

    def forward(self, x, exposure):
        return self.net(x).squeeze(-1) + torch.log(exposure)      # log of expected claim count


rng = np.random.default_rng(14)
X, y, expo = motor_claims(30000, rng)
cut = 24000
tr = TensorDataset(*map(torch.from_numpy, (X[:cut], y[:cut], expo[:cut])))
Xv, yv, ev = map(torch.from_numpy, (X[cut:], y[cut:], expo[cut:]))
base = math.log(y[:cut].sum() / expo[:cut].sum())
print(f"claims per policy-year {math.exp(base):.4f}; zero share {(y == 0).mean():.3f}")

model = FrequencyNet(base_log_rate=base)
opt = torch.optim.Adam(model.parameters(), lr=2e-3)
dl = DataLoader(tr, batch_size=512, shuffle=True)


def poisson_deviance(mu, y):
    term = torch.where(y > 0, y * torch.log(y / mu), torch.zeros_like(y))
    return 2 * (term - (y - mu)).mean()


with torch.no_grad():
    mu0 = torch.full_like(yv, math.exp(base)) * ev
    print(f"null model val deviance {poisson_deviance(mu0, yv).item():.5f}")
for epoch in range(1, 9):
    tot = 0.0
    for xb, yb, eb in dl:
        log_mu = model(xb, eb)
        loss = F.poisson_nll_loss(log_mu, yb, log_input=True)
        opt.zero_grad()
        loss.backward()
        opt.step()
        tot += loss.item() * len(yb)
    with torch.no_grad():
        mu = torch.exp(model(Xv, ev))
        dev = poisson_deviance(mu, yv).item()
    print(f"epoch {epoch} train_poisson_nll {tot / cut:.5f} val_deviance {dev:.5f}")
