"""Broken: the model ends in Softmax and the loss is CrossEntropyLoss (softmax applied twice)."""
import torch
from torch import nn

from toydata import blobs

torch.manual_seed(0)
x, y = blobs()
model = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 10), nn.Softmax(dim=1))
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
loss_fn = nn.CrossEntropyLoss()

for epoch in range(5):
    for i in range(0, len(x), 64):
        opt.zero_grad()
        loss = loss_fn(model(x[i:i + 64]), y[i:i + 64])
        loss.backward()
        opt.step()
    print(f"epoch {epoch} loss {loss.item():.4f}")
