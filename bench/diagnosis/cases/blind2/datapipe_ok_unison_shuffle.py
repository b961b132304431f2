# source: https://tutorialreference.com/python/examples/faq/python-numpy-shuffle-two-numpy-arrays-together-in-unison
# expect: healthy
# category: regression
# bug: healthy - features and targets are shuffled every epoch, but by one permutation applied to both arrays
import numpy as np
import torch
import torch.nn as nn

rng = np.random.default_rng(31)
torch.manual_seed(31)

# predict energy use of a building from 8 (already scaled) design parameters
n = 2400
design = rng.normal(size=(n, 8)).astype(np.float32)
energy = (np.tanh(design[:, 0] + design[:, 1]) + 0.5 * design[:, 2] ** 2
          - 0.7 * design[:, 3] + 0.05 * rng.normal(size=n)).astype(np.float32)

net = nn.Sequential(nn.Linear(8, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 1))
opt = torch.optim.RMSprop(net.parameters(), lr=1e-3)

bs = 80
for epoch in range(10):
    perm = rng.permutation(n)
    design = design[perm]
    energy = energy[perm]
    total = 0.0
    for i in range(0, n, bs):
        xb = torch.from_numpy(design[i:i + bs])
        yb = torch.from_numpy(energy[i:i + bs])
        loss = ((net(xb).squeeze(1) - yb) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        total += loss.item() * len(xb)
    print(f"epoch {epoch} mse {total / n:.4f}")
