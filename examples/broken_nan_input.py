"""Broken: a feature column holds missing values (NaN) that were never imputed."""
import torch
from torch import nn

from toydata import regression

torch.manual_seed(0)
x, y = regression()
x[torch.arange(0, len(x), 7), 3] = float("nan")  # every 7th row misses feature 3
model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 1))
opt = torch.optim.Adam(model.parameters(), lr=1e-3)

for epoch in range(5):
    for i in range(0, len(x), 32):
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(x[i:i + 32]).squeeze(-1), y[i:i + 32])
        loss.backward()
        opt.step()
    print(f"epoch {epoch} loss {loss.item():.4f}")
