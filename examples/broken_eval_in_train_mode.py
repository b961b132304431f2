"""Broken: the validation loop runs under no_grad but never calls model.eval();
batch norm then updates its running statistics from validation batches."""
import torch
from torch import nn

from toydata import blobs

torch.manual_seed(0)
x, y = blobs(n=2560)
xt, yt, xv, yv = x[:2048], y[:2048], x[2048:], y[2048:]
model = nn.Sequential(nn.Linear(20, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Dropout(0.2), nn.Linear(64, 10))
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
loss_fn = nn.CrossEntropyLoss()

for epoch in range(5):
    for i in range(0, len(xt), 64):
        opt.zero_grad()
        loss = loss_fn(model(xt[i:i + 64]), yt[i:i + 64])
        loss.backward()
        opt.step()
    with torch.no_grad():  # missing: model.eval()
        acc = (model(xv).argmax(1) == yv).float().mean()
    print(f"epoch {epoch} loss {loss.item():.4f} val_acc {acc:.3f}")
