# source: https://github.com/speechbrain/speechbrain/issues/735
# expect: graph-break
# category: regression
# bug: the predictions are detached before the loss (shared with the metric code), and the resulting "does not require grad" error is silenced with loss.requires_grad_(True), so nothing upstream ever gets a gradient
"""Energy-consumption regression on standardized tabular features (L1 loss, SGD)."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(14)

n, d = 2000, 6
X = torch.randn(n, d)
y = 1.5 * X[:, 0] - X[:, 1] + 0.8 * torch.sin(2 * X[:, 2]) + 0.1 * torch.randn(n)
loader = DataLoader(TensorDataset(X, y), batch_size=50, shuffle=True)

model = nn.Sequential(nn.Linear(d, 48), nn.SiLU(), nn.Linear(48, 48), nn.SiLU(), nn.Linear(48, 1))
optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)


def predict(batch_x):
    # shared with the evaluation/metrics code, hence the detach
    return model(batch_x).detach().squeeze(-1)


def train_epoch():
    total = 0.0
    for xb, yb in loader:
        preds = predict(xb)                     # BUG: detached predictions
        loss = F.l1_loss(preds, yb)
        loss.requires_grad_(True)               # "fixes" RuntimeError: element 0 of tensors does not require grad
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item() * len(xb)
    return total / n


for epoch in range(15):
    train_mae = train_epoch()
    print(f"epoch {epoch:2d}  train mae {train_mae:.4f}  (predict-zero mae {y.abs().mean().item():.4f})")
