# source: https://github.com/eriklindernoren/Keras-GAN/issues/128
# expect: healthy
# category: gan
# bug: the same 2-D ring GAN with one Adam per player, fakes detached for the discriminator's step
import math
import torch
import torch.nn as nn

torch.manual_seed(6)


def sample_ring(n, radius=2.0, modes=8):
    k = torch.randint(0, modes, (n,)).float()
    ang = 2 * math.pi * k / modes
    pts = torch.stack([radius * torch.cos(ang), radius * torch.sin(ang)], dim=1)
    return pts + 0.05 * torch.randn(n, 2)


class Generator(nn.Module):
    def __init__(self, nz=4):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(nz, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 2))

    def forward(self, z):
        return self.net(z)


class Discriminator(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2, 64), nn.LeakyReLU(0.2), nn.Linear(64, 64), nn.LeakyReLU(0.2), nn.Linear(64, 1))

    def forward(self, x):
        return self.net(x)


G, D = Generator(), Discriminator()
bce = nn.BCEWithLogitsLoss()
opt_g = torch.optim.Adam(G.parameters(), lr=1e-3, betas=(0.5, 0.999))
opt_d = torch.optim.Adam(D.parameters(), lr=1e-3, betas=(0.5, 0.999))

batch = 128
ones = torch.ones(batch, 1)
zeros = torch.zeros(batch, 1)
for step in range(400):
    real = sample_ring(batch)
    fake = G(torch.randn(batch, 4))

    d_loss = bce(D(real), ones) + bce(D(fake.detach()), zeros)
    opt_d.zero_grad()
    d_loss.backward()
    opt_d.step()

    g_loss = bce(D(fake), ones)
    opt_g.zero_grad()
    g_loss.backward()
    opt_g.step()

    if step % 50 == 0 or step == 399:
        with torch.no_grad():
            s = G(torch.randn(1000, 4))
            ring_err = (s.norm(dim=1) - 2.0).abs().mean().item()
        print(f"step {step:3d} d_loss {d_loss.item():.3f} g_loss {g_loss.item():.3f} ring_err {ring_err:.3f}")
