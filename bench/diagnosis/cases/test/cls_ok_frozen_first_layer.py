# source: https://discuss.pytorch.org/t/best-practice-for-freezing-layers/58156
# expect: healthy
# category: classification
# bug: none - the first layer is a deliberately frozen random-feature projection (requires_grad=False, left out of the optimizer); the layers after it learn the ring classes
"""Concentric-ring classes; a frozen random first layer; Adam over the trainable parameters only; ExponentialLR."""
import math

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(22)


def rings(n, gen):
    r = torch.rand(n, generator=gen) * 4.0
    theta = torch.rand(n, generator=gen) * 2 * math.pi
    y = r.floor().long().clamp(max=3)
    x = torch.cat([
        torch.stack([r * torch.cos(theta), r * torch.sin(theta)], dim=1),
        0.5 * torch.randn(n, 6, generator=gen),
    ], dim=1)
    return x, y


class RandomFeatureNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.project = nn.Linear(8, 256)
        for p in self.project.parameters():
            p.requires_grad = False  # fixed random features, on purpose
        self.head = nn.Sequential(nn.ReLU(), nn.Linear(256, 64), nn.ReLU(), nn.Linear(64, 4))

    def forward(self, x):
        return self.head(self.project(x))


gen = torch.Generator().manual_seed(22)
x, y = rings(1500, gen)
loader = DataLoader(TensorDataset(x, y), batch_size=64, shuffle=True)
model = RandomFeatureNet()
trainable = [p for p in model.parameters() if p.requires_grad]
optimizer = torch.optim.Adam(trainable, lr=3e-3)
scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.93)
criterion = nn.CrossEntropyLoss()
print(f"trainable {sum(p.numel() for p in trainable)} / {sum(p.numel() for p in model.parameters())} parameters")

for epoch in range(14):
    running = 0.0
    for xb, yb in loader:
        optimizer.zero_grad()
        loss = criterion(model(xb), yb)
        loss.backward()
        optimizer.step()
        running += loss.item()
    scheduler.step()
    if epoch % 3 == 0 or epoch == 13:
        with torch.no_grad():
            acc = (model(x).argmax(1) == y).float().mean().item()
        print(f"epoch {epoch:2d}  loss {running / len(loader):.4f}  acc {acc:.3f}")
