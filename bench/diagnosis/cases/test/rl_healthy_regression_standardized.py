# source: https://discuss.pytorch.org/t/neural-network-could-not-learn-on-this-type-of-data-why/96648/5
# expect: healthy
# category: regression
# bug: none: price targets of order 1e4 standardized with the training mean/std, predictions mapped back to dollars for reporting
"""Tabular price regression done right: inputs and targets standardized on the training split."""
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(6)

n, d = 2048, 8
X = torch.randn(n, d)
w = torch.randn(d)
price = 25_000 + 6_000 * torch.tanh(X @ w / 2) + 2_000 * X[:, 0] * X[:, 1] + 500 * torch.randn(n)
train, val = slice(0, 1792), slice(1792, n)
x_mu, x_sd = X[train].mean(0), X[train].std(0)
y_mu, y_sd = price[train].mean(), price[train].std()
Xs = (X - x_mu) / x_sd
ys = ((price - y_mu) / y_sd).unsqueeze(1)

loader = DataLoader(TensorDataset(Xs[train], ys[train]), batch_size=64, shuffle=True)
model = nn.Sequential(nn.Linear(d, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1))
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
loss_fn = nn.MSELoss()

for epoch in range(30):
    total, count = 0.0, 0
    model.train()
    for xb, yb in loader:
        loss = loss_fn(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        total += loss.item() * len(xb)
        count += len(xb)
    if epoch % 3 == 0 or epoch == 29:
        model.eval()
        with torch.no_grad():
            pred_dollars = model(Xs[val]) * y_sd + y_mu
            rmse = ((pred_dollars.squeeze(1) - price[val]) ** 2).mean().sqrt()
        print(f"epoch {epoch:2d}  train mse (standardized) {total / count:.4f}  val rmse ${rmse.item():,.0f}")
