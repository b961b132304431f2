"""Broken: SGD with a learning rate of 8.0; the weights blow up within a few steps."""
import torch
from torch import nn

from toydata import blobs

torch.manual_seed(0)
x, y = blobs()
model = nn.Sequential(nn.Linear(20, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 10))
opt = torch.optim.SGD(model.parameters(), lr=8.0)
loss_fn = nn.CrossEntropyLoss()

for epoch in range(5):
    for i in range(0, len(x), 64):
        opt.zero_grad()
        loss = loss_fn(model(x[i:i + 64]), y[i:i + 64])
        loss.backward()
        opt.step()
    print(f"epoch {epoch} loss {loss.item():.4f}")
