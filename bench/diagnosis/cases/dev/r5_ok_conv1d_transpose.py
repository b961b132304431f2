# source: https://github.com/zamanzadeh/CARLA/issues/16
# expect: healthy
# category: sequence
# bug: none - the look-alike of the report done right: (batch, time, channels) windows are put in Conv1d's (batch, channels, time) layout with .transpose(1, 2), so each input channel is one sensor
"""1-D CNN classifying which of three sensors carries a vibration."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(1)

B, T, C = 32, 48, 3


def make_batch(n):
    t = torch.arange(T).float()
    y = torch.randint(0, C, (n,))
    freq = 0.15 + 0.35 * torch.rand(n, 1)
    phase = 2 * math.pi * torch.rand(n, 1)
    x = 0.5 * torch.randn(n, T, C)                     # (batch, time, channels) as recorded
    x[torch.arange(n), :, y] += torch.sin(freq * t + phase)
    return x, y


class SensorCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv1d(C, 16, 5, padding=2), nn.ReLU(),
            nn.Conv1d(16, 16, 5, padding=2), nn.ReLU(),
        )
        self.head = nn.Linear(16, C)

    def forward(self, x):                              # x: (batch, time, channels)
        x = x.transpose(1, 2)                          # (batch, channels, time)
        h = self.conv(x)
        return self.head(h.abs().mean(-1))


model = SensorCNN()
opt = torch.optim.Adam(model.parameters(), lr=2e-3)

for step in range(200):
    x, y = make_batch(B)
    logits = model(x)
    loss = F.cross_entropy(logits, y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 25 == 0 or step == 199:
        acc = (logits.argmax(1) == y).float().mean().item()
        print(f"step {step:3d}  loss {loss.item():.4f}  acc {acc:.3f}")
