# source: https://github.com/Lightning-AI/pytorch-lightning/issues/557
# expect: grad-not-zeroed
# category: gan
# bug: the discriminator step calls zero_grad on the generator's optimizer, so the discriminator's gradients are never cleared: they pile up over every step, including the gradients the generator step pushed into D
"""MLP GAN on 16x16 "bar" images (4 modes); generator step first, then discriminator step."""
import torch
import torch.nn as nn

torch.manual_seed(0)

# four noise-free templates in [-1, 1]: two horizontal, two vertical bars
templates = -torch.ones(4, 16, 16)
templates[0, 4:6, :] = 1
templates[1, 10:12, :] = 1
templates[2, :, 4:6] = 1
templates[3, :, 10:12] = 1
templates = templates.view(4, -1)


def real_batch(n):
    k = torch.randint(0, 4, (n,))
    return templates[k] + 0.1 * torch.randn(n, 256)


def mode_distance(x):
    """mean over samples of the squared distance per pixel to the nearest template"""
    d = ((x[:, None, :] - templates[None]) ** 2).mean(-1)
    return d.min(1).values.mean().item()


Z = 32
G = nn.Sequential(nn.Linear(Z, 128), nn.LeakyReLU(0.2), nn.Linear(128, 256), nn.Tanh())
D = nn.Sequential(nn.Linear(256, 128), nn.LeakyReLU(0.2), nn.Linear(128, 1))
opt_g = torch.optim.Adam(G.parameters(), lr=1e-3, betas=(0.5, 0.999))
opt_d = torch.optim.Adam(D.parameters(), lr=1e-3, betas=(0.5, 0.999))
bce = nn.BCEWithLogitsLoss()
B = 64
ones, zeros = torch.ones(B, 1), torch.zeros(B, 1)

for it in range(1500):
    real = real_batch(B)

    # --- generator ---
    opt_g.zero_grad()
    fake = G(torch.randn(B, Z))
    g_loss = bce(D(fake), ones)
    g_loss.backward()
    opt_g.step()

    # --- discriminator ---
    opt_g.zero_grad()                     # BUG: meant opt_d.zero_grad()
    d_loss = bce(D(real), ones) + bce(D(fake.detach()), zeros)
    d_loss.backward()
    opt_d.step()

    if it % 150 == 0 or it == 1499:
        with torch.no_grad():
            dist = mode_distance(G(torch.randn(512, Z)))
        print(f"it {it:4d}  d_loss {d_loss.item():.3f}  g_loss {g_loss.item():.3f}  "
              f"fake->nearest-mode mse {dist:.3f} (real data: {mode_distance(real_batch(512)):.3f})")
