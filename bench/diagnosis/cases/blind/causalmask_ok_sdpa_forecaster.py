# source: https://github.com/pytorch/pytorch/pull/170415
# expect: healthy
# category: regression
# bug: none - a hand-written SDPA forecaster passes a boolean tril mask (True = may attend) to F.scaled_dot_product_attention, the correct causal convention for SDPA
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(6)

L, N, D, H = 32, 16, 32, 4


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.q = nn.Linear(D, D)
        self.k = nn.Linear(D, D)
        self.v = nn.Linear(D, D)
        self.o = nn.Linear(D, D)

    def forward(self, x):
        n, t, _ = x.shape
        split = lambda z: z.view(n, t, H, D // H).permute(0, 2, 1, 3)
        allowed = torch.ones(t, t, dtype=torch.bool).tril()
        y = F.scaled_dot_product_attention(split(self.q(x)), split(self.k(x)), split(self.v(x)), attn_mask=allowed)
        return self.o(y.permute(0, 2, 1, 3).reshape(n, t, D))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.inp = nn.Linear(1, D)
        self.pos = nn.Parameter(torch.zeros(1, L, D))
        self.att1, self.att2 = Attention(), Attention()
        self.n1, self.n2 = nn.LayerNorm(D), nn.LayerNorm(D)
        self.mlp = nn.Sequential(nn.Linear(D, 64), nn.GELU(), nn.Linear(64, D))
        self.out = nn.Linear(D, 1)

    def forward(self, x):
        h = self.inp(x) + self.pos[:, : x.size(1)]
        h = h + self.att1(self.n1(h))
        h = h + self.att2(self.n2(h))
        return self.out(h + self.mlp(h))


def batch():
    t = torch.arange(L + 1).float()
    phase = torch.rand(N, 1) * 6.28
    freq = 0.15 + 0.1 * torch.rand(N, 1)
    s = torch.sin(freq * t + phase) + 0.3 * torch.randn(N, L + 1)
    return s[:, :-1, None], s[:, 1:, None]


net = Net()
opt = torch.optim.Adam(net.parameters(), lr=1e-3)
for step in range(300):
    x, y = batch()
    loss = F.mse_loss(net(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 30 == 0 or step == 299:
        print(f"step {step:3d}  mse {loss.item():.4f}")
