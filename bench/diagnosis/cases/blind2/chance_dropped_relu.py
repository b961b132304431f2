# source: https://github.com/HorizonRobotics/alf/pull/990
# expect: no-nonlinearity
# category: regression
# bug: forward() calls F.relu(h) without assigning the result, so no activation is ever applied and the residual MLP is affine in its input
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(34)


class ResidualMLP(nn.Module):
    def __init__(self, d_in, width=64, blocks=3):
        super().__init__()
        self.inp = nn.Linear(d_in, width)
        self.blocks = nn.ModuleList([nn.Linear(width, width) for _ in range(blocks)])
        self.norm = nn.LayerNorm(width, elementwise_affine=False)
        self.out = nn.Linear(width, 1)

    def forward(self, x):
        h = self.inp(x)
        for block in self.blocks:
            F.relu(h)
            h = h + block(h)
        return self.out(h)


# robot arm: end-effector height from 3 joint angles
q = (torch.rand(3000, 3) - 0.5) * 3.0
height = torch.sin(q[:, 0]) + 0.7 * torch.sin(q[:, 0] + q[:, 1]) + 0.4 * torch.sin(q[:, 0] + q[:, 1] + q[:, 2])
height = height.unsqueeze(1)

net = ResidualMLP(3)
optim = torch.optim.Adam(net.parameters(), lr=2e-3)
with torch.no_grad():
    print(f"before training  mse {F.mse_loss(net(q), height).item():.4f}")

for epoch in range(12):
    perm = torch.randperm(len(q))
    for i in range(0, len(q), 100):
        idx = perm[i:i + 100]
        loss = F.mse_loss(net(q[idx]), height[idx])
        optim.zero_grad()
        loss.backward()
        optim.step()
    with torch.no_grad():
        full = F.mse_loss(net(q), height).item()
    print(f"epoch {epoch:2d}  train mse {full:.4f}")
