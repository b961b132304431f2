"""Broken: the model outputs (B, 1), the targets are (B,): MSE broadcasts to (B, B)."""
import torch
from torch import nn

from toydata import regression

torch.manual_seed(0)
x, y = regression()
model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 1))
opt = torch.optim.Adam(model.parameters(), lr=1e-3)

for epoch in range(10):
    for i in range(0, len(x), 32):
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(x[i:i + 32]), y[i:i + 32])
        loss.backward()
        opt.step()
    print(f"epoch {epoch} loss {loss.item():.4f}")
