# source: https://github.com/mukul-rathi/deep-learning-tutorials/issues/2
# expect: healthy
# category: regression
# bug: none - a tanh MLP with a tanh output done right: default (fan-in scaled) initialisation keeps the units out of saturation, and the targets were rescaled into (-1, 1) so the bounded output can reach them
"""Tanh network predicting a control signal scaled to [-0.8, 0.8]."""
import torch
import torch.nn as nn

torch.manual_seed(0)

N, D = 1500, 8
X = torch.randn(N, D)
raw = torch.sin(X[:, 0]) + 0.5 * torch.tanh(X[:, 1] * X[:, 2]) - 0.3 * X[:, 3]
y = (0.8 * raw / raw.abs().max()).unsqueeze(1)       # every target inside the tanh range

model = nn.Sequential(
    nn.Linear(D, 128), nn.Tanh(),
    nn.Linear(128, 128), nn.Tanh(),
    nn.Linear(128, 1), nn.Tanh(),
)
opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)

for epoch in range(12):
    perm = torch.randperm(N)
    tot = 0.0
    for i in range(0, N, 64):
        idx = perm[i:i + 64]
        loss = nn.functional.mse_loss(model(X[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        tot += loss.item() * len(idx)
    if epoch % 2 == 0 or epoch == 11:
        print(f"epoch {epoch:2d}  mse {tot / N:.5f}  (target variance {y.var().item():.4f})")
