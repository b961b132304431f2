# source: http://stackoverflow.com/questions/9048031/neural-network-output-scaling-the-output-range
# expect: output-range-mismatch
# category: regression
# bug: the regression network ends in a sigmoid, so its output is confined to (0, 1) while the targets range up to ~40; the output saturates at 1 and the loss plateaus far above zero
"""Predict a temperature-like quantity (0..40) from sensor readings; the last layer is a Sigmoid."""
import numpy as np
import torch
import torch.nn as nn

np.random.seed(8)
torch.manual_seed(8)

n = 1000
sensors = np.random.randn(n, 6).astype(np.float32)
temperature = (20 + 8 * sensors[:, 0] - 5 * sensors[:, 1] ** 2 / 2 + 3 * sensors[:, 2] * sensors[:, 3]).clip(0, 40)
x = torch.from_numpy(sensors)
y = torch.from_numpy(temperature.astype(np.float32)).unsqueeze(1)

net = nn.Sequential(
    nn.Linear(6, 32), nn.ReLU(),
    nn.Linear(32, 32), nn.ReLU(),
    nn.Linear(32, 1), nn.Sigmoid(),        # BUG: bounded output for unbounded targets
)
opt = torch.optim.RMSprop(net.parameters(), lr=1e-3)

for epoch in range(40):
    perm = torch.randperm(n)
    for i in range(0, n, 50):
        idx = perm[i:i + 50]
        loss = ((net(x[idx]) - y[idx]) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    if epoch % 4 == 0 or epoch == 39:
        with torch.no_grad():
            out = net(x)
            full = ((out - y) ** 2).mean().item()
        print(f"epoch {epoch:3d}  mse {full:8.2f}  target mean {y.mean().item():.1f}  output range [{out.min().item():.3f}, {out.max().item():.3f}]")
