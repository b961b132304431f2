# source: https://github.com/iKernels/transformers-lightning/pull/18
# expect: nonfinite-input, constant-feature
# category: tabular
# bug: features standardised with (x - mean) / std where one column is constant in this extract (std = 0), so that column becomes 0/0 = NaN before the model sees it
import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import TensorDataset, DataLoader

rng = np.random.default_rng(7)
torch.manual_seed(7)

# churn table: tenure, monthly_charge, n_tickets, contract_len, is_domestic
n = 4000
tenure = rng.integers(1, 72, n).astype(np.float32)
charge = rng.normal(70, 20, n).astype(np.float32)
tickets = rng.poisson(1.5, n).astype(np.float32)
contract = rng.choice([1, 12, 24], n).astype(np.float32)
is_domestic = np.ones(n, dtype=np.float32)          # this export only has domestic customers
table = np.stack([tenure, charge, tickets, contract, is_domestic], axis=1)
logit = -0.04 * tenure + 0.03 * (charge - 70) + 0.6 * tickets - 0.08 * contract + 0.5
churn = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int64)

mean = table.mean(axis=0)
std = table.std(axis=0)
table = (table - mean) / std

X = torch.from_numpy(table)
y = torch.from_numpy(churn)
loader = DataLoader(TensorDataset(X[:3200], y[:3200]), batch_size=64, shuffle=True)

model = nn.Sequential(nn.Linear(5, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 2))
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
crit = nn.CrossEntropyLoss()

step = 0
for epoch in range(6):
    for xb, yb in loader:
        logits = model(xb)
        loss = crit(logits, yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 50 == 0:
            print(f"epoch {epoch} step {step} loss {loss.item():.4f}")
        step += 1
with torch.no_grad():
    acc = (model(X[3200:]).argmax(1) == y[3200:]).float().mean().item()
print(f"holdout accuracy {acc:.3f}")
