# source: https://discuss.pytorch.org/t/neural-network-could-not-learn-on-this-type-of-data-why/96648
# expect: unnormalized-targets
# category: regression
# bug: regression targets are house prices of order 1e4 fed raw to MSELoss; the unit-scale network cannot reach them and the loss barely moves (normalising the targets fixes it)
"""Tabular price regression with standardized features but raw-scale targets."""
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(6)

n, d = 2048, 8
X = torch.randn(n, d)
w = torch.randn(d)
price = 25_000 + 6_000 * torch.tanh(X @ w / 2) + 2_000 * X[:, 0] * X[:, 1] + 500 * torch.randn(n)
X = (X - X.mean(0)) / X.std(0)            # inputs standardized ...
y = price.unsqueeze(1)                    # ... but the targets are left in dollars

loader = DataLoader(TensorDataset(X, y), batch_size=64, shuffle=True)
model = nn.Sequential(nn.Linear(d, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1))
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
loss_fn = nn.MSELoss()

for epoch in range(20):
    total = 0.0
    for xb, yb in loader:
        loss = loss_fn(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        total += loss.item() * len(xb)
    if epoch % 2 == 0 or epoch == 19:
        with torch.no_grad():
            pred = model(X)
            r2 = 1 - ((pred - y) ** 2).mean() / y.var()
        print(f"epoch {epoch:2d}  mse {total / n:.4e}  r2 {r2.item():+.3f}")
