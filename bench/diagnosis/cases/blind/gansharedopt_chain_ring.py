# source: https://github.com/eriklindernoren/Keras-GAN/issues/128
# expect: game-shared-optimizer
# category: gan
# bug: one Adam over itertools.chain(G.parameters(), D.parameters()) is stepped after both the D loss (fakes not detached) and the G loss, so each player is also moved by the other's objective
import itertools
import math
import torch
import torch.nn as nn

torch.manual_seed(6)


def sample_ring(n, radius=2.0, modes=8):
    k = torch.randint(0, modes, (n,)).float()
    ang = 2 * math.pi * k / modes
    pts = torch.stack([radius * torch.cos(ang), radius * torch.sin(ang)], dim=1)
    return pts + 0.05 * torch.randn(n, 2)


G = nn.Sequential(nn.Linear(4, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 2))
D = nn.Sequential(nn.Linear(2, 64), nn.LeakyReLU(0.2), nn.Linear(64, 64), nn.LeakyReLU(0.2), nn.Linear(64, 1))
bce = nn.BCEWithLogitsLoss()
opt = torch.optim.Adam(itertools.chain(G.parameters(), D.parameters()), lr=1e-3, betas=(0.5, 0.999))

batch = 128
ones = torch.ones(batch, 1)
zeros = torch.zeros(batch, 1)
for step in range(400):
    real = sample_ring(batch)
    z = torch.randn(batch, 4)
    fake = G(z)

    d_loss = bce(D(real), ones) + bce(D(fake), zeros)
    opt.zero_grad()
    d_loss.backward()
    opt.step()

    g_loss = bce(D(G(z)), ones)
    opt.zero_grad()
    g_loss.backward()
    opt.step()

    if step % 50 == 0 or step == 399:
        with torch.no_grad():
            s = G(torch.randn(1000, 4))
            ring_err = (s.norm(dim=1) - 2.0).abs().mean().item()
        print(f"step {step:3d} d_loss {d_loss.item():.3f} g_loss {g_loss.item():.3f} ring_err {ring_err:.3f}")
