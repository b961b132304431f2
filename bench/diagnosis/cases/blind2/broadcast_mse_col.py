# source: https://github.com/pytorch/pytorch/pull/18349
# expect: broadcast-loss
# category: regression
# bug: the MLP returns (N,1) predictions while the targets are (N,); MSELoss broadcasts them to (N,N)
import torch
import torch.nn as nn
from torch.utils.data import TensorDataset, DataLoader

torch.manual_seed(0)
n, d = 1024, 8
X = torch.randn(n, d)
w_true = torch.randn(d)
y = X @ w_true + 0.3 * torch.sin(3 * X[:, 0]) + 0.05 * torch.randn(n)

loader = DataLoader(TensorDataset(X, y), batch_size=64, shuffle=True)

model = nn.Sequential(nn.Linear(d, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1))
criterion = nn.MSELoss()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

step = 0
for epoch in range(20):
    for xb, yb in loader:
        pred = model(xb)
        loss = criterion(pred, yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 40 == 0:
            print(f"epoch {epoch} step {step} loss {loss.item():.4f}")
        step += 1

with torch.no_grad():
    mse = ((model(X).squeeze(1) - y) ** 2).mean().item()
print(f"final per-sample mse {mse:.4f}  (target variance {y.var().item():.4f})")
