# source: https://github.com/thedeepchecker/thedeepchecker/blob/main/buggy_synthetic_programs/missing_normalization/baseCNN_miss_norm.py
# expect: unnormalized-inputs
# category: tabular
# bug: raw tabular columns (income in the 1e4-1e5 range, balance up to 1e5, age in years) go into the MLP without standardisation; the first logits are in the thousands and SGD cannot learn (TheDeepChecker's missing-normalisation fault)
"""Loan-default prediction from raw columns; DataLoader, SGD."""
import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

rng = np.random.default_rng(17)
torch.manual_seed(17)

N = 4000
age = rng.uniform(21, 70, N)
income = rng.lognormal(mean=10.8, sigma=0.5, size=N)          # ~ 50k
balance = rng.uniform(0, 120_000, N)
n_cards = rng.integers(1, 6, N).astype(float)
years_employed = np.clip(age - 21 - rng.uniform(0, 10, N), 0, None)

z = lambda v: (v - v.mean()) / v.std()
risk = 1.5 * z(balance) - 1.2 * z(income) + 0.6 * z(n_cards) - 0.8 * z(years_employed)
default = (risk + 0.5 * rng.standard_normal(N) > 0.3).astype(np.int64)

X = np.stack([age, income, balance, n_cards, years_employed], axis=1).astype(np.float32)
print("column means", np.round(X.mean(0), 1).tolist())

loader = DataLoader(TensorDataset(torch.from_numpy(X), torch.from_numpy(default)), batch_size=64, shuffle=True)
model = nn.Sequential(nn.Linear(5, 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 2))
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
criterion = nn.CrossEntropyLoss()

X_t, y_t = torch.from_numpy(X), torch.from_numpy(default)
for epoch in range(8):
    total = 0.0
    for xb, yb in loader:
        optimizer.zero_grad()
        loss = criterion(model(xb), yb)
        loss.backward()
        optimizer.step()
        total += loss.item()
    with torch.no_grad():
        acc = (model(X_t).argmax(1) == y_t).float().mean().item()
    print(f"epoch {epoch:2d}  loss {total / len(loader):.4f}  acc {acc:.3f}  (majority {max(default.mean(), 1 - default.mean()):.3f})")
