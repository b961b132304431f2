# source: https://github.com/ginobilinie/asdnet/issues/2
# expect: gan-shared-optimizer
# category: gan
# bug: one Adam optimizer holds both the generator's and the discriminator's parameters, so the discriminator step also moves G along the discriminator's loss and the generator step moves D towards being fooled
"""Vanilla GAN (MLPs) on flattened 16x16 checkerboard-phase images, two modes."""
import torch
import torch.nn as nn

torch.manual_seed(0)

ii, jj = torch.meshgrid(torch.arange(16), torch.arange(16), indexing="ij")
board = (((ii // 4) + (jj // 4)) % 2).float() * 2 - 1
MODES = torch.stack([board, -board]).view(2, 256)


def data(n):
    return MODES[torch.randint(0, 2, (n,))] + 0.1 * torch.randn(n, 256)


def nearest_mode_mse(x):
    return ((x[:, None] - MODES[None]) ** 2).mean(-1).min(1).values.mean().item()


class Gen(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(8, 64), nn.ReLU(), nn.Linear(64, 256), nn.Tanh())

    def forward(self, z):
        return self.net(z)


class Disc(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(256, 64), nn.LeakyReLU(0.2), nn.Linear(64, 1))

    def forward(self, x):
        return self.net(x)


gen, disc = Gen(), Disc()
# BUG: a single optimizer for both players
optimizer = torch.optim.Adam(list(gen.parameters()) + list(disc.parameters()), lr=1e-3, betas=(0.5, 0.999))
loss_fn = nn.BCEWithLogitsLoss()

for it in range(1500):
    x = data(64)
    z = torch.randn(64, 8)
    fake = gen(z)

    optimizer.zero_grad()
    d_loss = loss_fn(disc(x), torch.ones(64, 1)) + loss_fn(disc(fake), torch.zeros(64, 1))
    d_loss.backward()
    optimizer.step()

    optimizer.zero_grad()
    g_loss = loss_fn(disc(gen(z)), torch.ones(64, 1))
    g_loss.backward()
    optimizer.step()

    if it % 150 == 0 or it == 1499:
        with torch.no_grad():
            m = nearest_mode_mse(gen(torch.randn(512, 8)))
        print(f"iter {it:4d} d_loss={d_loss.item():.3f} g_loss={g_loss.item():.3f} sample mse to nearest mode={m:.3f}")
