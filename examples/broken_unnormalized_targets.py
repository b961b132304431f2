"""Broken: house prices in dollars as regression targets (scale 1e5), features in raw units."""
import torch
from torch import nn

from toydata import regression

torch.manual_seed(0)
x, y = regression()
price = 250_000 + 80_000 * y  # dollars
model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 1))
opt = torch.optim.Adam(model.parameters(), lr=1e-3)

for epoch in range(5):
    for i in range(0, len(x), 32):
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(x[i:i + 32]).squeeze(-1), price[i:i + 32])
        loss.backward()
        opt.step()
    print(f"epoch {epoch} loss {loss.item():.4e}")
