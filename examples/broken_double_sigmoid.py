"""Broken: a Sigmoid at the end of the model plus BCEWithLogitsLoss (sigmoid applied twice)."""
import torch
from torch import nn

from toydata import blobs

torch.manual_seed(0)
x, y = blobs(classes=2)
model = nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 1), nn.Sigmoid())
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
loss_fn = nn.BCEWithLogitsLoss()

for epoch in range(5):
    for i in range(0, len(x), 64):
        opt.zero_grad()
        loss = loss_fn(model(x[i:i + 64]).squeeze(-1), y[i:i + 64].float())
        loss.backward()
        opt.step()
    print(f"epoch {epoch} loss {loss.item():.4f}")
