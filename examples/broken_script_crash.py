"""Broken: a shape bug crashes the script after a few steps of training."""
import torch
from torch import nn

from toydata import blobs

torch.manual_seed(0)
x, y = blobs()
model = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 10))
opt = torch.optim.Adam(model.parameters(), lr=1e-3)

for step in range(100):
    opt.zero_grad()
    loss = nn.functional.cross_entropy(model(x[step * 64:(step + 1) * 64]), y[step * 64:(step + 1) * 64])
    loss.backward()
    opt.step()
    if step == 5:
        features = model[0](x[:64]).view(64, 32)  # 64 x 64 values do not fit 64 x 32
