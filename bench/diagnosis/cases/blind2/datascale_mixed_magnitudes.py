# source: https://discuss.cloudxlab.com/t/doubt-clarification-regarding-impact-of-range-of-features-values-on-training/7611
# expect: unnormalized-inputs
# category: tabular
# bug: raw loan-application columns go straight into the MLP: annual income and balance in the 1e4-1e5 range next to ratios and counts near 1, so the large columns swamp the first layer
import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import TensorDataset, DataLoader

rng = np.random.default_rng(12)
torch.manual_seed(12)

n = 4000
income = rng.normal(65000, 20000, n).clip(12000)
balance = rng.lognormal(10, 1.0, n)
debt_ratio = rng.beta(2, 5, n)
late_12m = rng.poisson(0.8, n)
open_lines = rng.integers(1, 15, n)
score = 4.0 * (debt_ratio - 0.3) + 0.9 * late_12m - 0.1 * open_lines + 0.4 * (income < 40000)
default = (rng.random(n) < 1 / (1 + np.exp(-(score - 0.5) * 2))).astype(np.int64)

X = torch.tensor(np.stack([income, balance, debt_ratio, late_12m, open_lines], 1), dtype=torch.float32)
y = torch.tensor(default)
loader = DataLoader(TensorDataset(X[:3200], y[:3200]), batch_size=64, shuffle=True)

model = nn.Sequential(nn.Linear(5, 32), nn.ReLU(), nn.Linear(32, 16), nn.ReLU(), nn.Linear(16, 2))
opt = torch.optim.SGD(model.parameters(), lr=1e-6, momentum=0.9)
crit = nn.CrossEntropyLoss()

step = 0
for epoch in range(6):
    for xb, yb in loader:
        loss = crit(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 40 == 0:
            print(f"epoch {epoch} step {step} loss {loss.item():.4f}")
        step += 1
with torch.no_grad():
    pred = model(X[3200:]).argmax(1)
    print(f"holdout acc {(pred == y[3200:]).float().mean().item():.3f}  (base rate {1 - y[3200:].float().mean().item():.3f})")
