# source: https://github.com/thedeepchecker/thedeepchecker/blob/main/buggy_synthetic_programs/wrong_init/baseCNN_constant.py
# expect: symmetric-init
# category: classification
# bug: every weight matrix is initialised to the constant 0.01, so all units of a layer compute the same value and receive the same gradient forever; each hidden layer acts as a single unit and the ring-shaped classes cannot be separated (TheDeepChecker's constant-initialisation fault)
"""Concentric-ring classes in 2 informative + 6 noise dimensions; an MLP whose init() sets constant weights."""
import math

import torch
import torch.nn as nn

torch.manual_seed(21)


def rings(n):
    r = torch.rand(n) * 4.0
    theta = torch.rand(n) * 2 * math.pi
    y = r.floor().long().clamp(max=3)
    x = torch.zeros(n, 8)
    x[:, 0] = r * torch.cos(theta)
    x[:, 1] = r * torch.sin(theta)
    x[:, 2:] = 0.5 * torch.randn(n, 6)
    return x, y


class RingNet(nn.Module):
    def __init__(self, width=64):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(8, width), nn.ReLU(),
            nn.Linear(width, width), nn.ReLU(),
            nn.Linear(width, 4),
        )
        self.init()

    def init(self):
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.constant_(m.weight, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        return self.net(x)


x_train, y_train = rings(2000)
model = RingNet()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
loss_fn = nn.CrossEntropyLoss()

for epoch in range(25):
    perm = torch.randperm(len(x_train))
    for k in range(0, len(x_train), 100):
        idx = perm[k:k + 100]
        optimizer.zero_grad()
        loss = loss_fn(model(x_train[idx]), y_train[idx])
        loss.backward()
        optimizer.step()
    if epoch % 5 == 0 or epoch == 24:
        with torch.no_grad():
            full = loss_fn(model(x_train), y_train).item()
            acc = (model(x_train).argmax(1) == y_train).float().mean().item()
        print(f"epoch {epoch:2d}  loss {full:.4f}  acc {acc:.3f}")
