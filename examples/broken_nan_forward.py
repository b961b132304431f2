"""Broken: a log-scaling layer takes the log of values that can be negative -> NaN."""
import torch
from torch import nn

from toydata import regression


class LogScale(nn.Module):
    def forward(self, x):
        return torch.log(x + 1.0)  # x + 1 is negative for some units


torch.manual_seed(0)
x, y = regression()
model = nn.Sequential(nn.Linear(8, 32), LogScale(), nn.Linear(32, 1))
opt = torch.optim.Adam(model.parameters(), lr=1e-3)

for step in range(200):
    i = (step * 32) % len(x)
    opt.zero_grad()
    loss = nn.functional.mse_loss(model(x[i:i + 32]).squeeze(-1), y[i:i + 32])
    loss.backward()
    opt.step()
    if step % 50 == 0:
        print(f"step {step} loss {loss.item():.4f}")
