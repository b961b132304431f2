"""Broken: zero_grad() sits between backward() and step(), so every step applies nothing."""
import torch
from torch import nn

from toydata import blobs

torch.manual_seed(0)
x, y = blobs()
model = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 10))
opt = torch.optim.SGD(model.parameters(), lr=0.1)
loss_fn = nn.CrossEntropyLoss()

for epoch in range(5):
    for i in range(0, len(x), 64):
        loss = loss_fn(model(x[i:i + 64]), y[i:i + 64])
        loss.backward()
        opt.zero_grad()
        opt.step()
    print(f"epoch {epoch} loss {loss.item():.4f}")
