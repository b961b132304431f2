# source: https://github.com/pytorch/examples/issues/824
# expect: healthy
# category: vae
# bug: none: a VAE with std = exp(0.5 * logvar), Normal(mu, std).rsample(), and the loss recon + KL with KL = -0.5 * sum(1 + logvar - mu^2 - exp(logvar)), summed over pixels and averaged over the batch
"""MLP VAE on 16x16 binary sprites (8 shapes, shifted), done right."""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.distributions import Normal

torch.manual_seed(0)
rng = np.random.default_rng(5)

shapes = (rng.random((8, 6, 6)) < 0.5).astype(np.float32)


def sprites(n):
    out = np.zeros((n, 16, 16), dtype=np.float32)
    for i in range(n):
        r, c = rng.integers(0, 11, size=2)
        out[i, r:r + 6, c:c + 6] = shapes[rng.integers(0, 8)]
    return out.reshape(n, -1)


data = torch.from_numpy(sprites(2048))


class VAE(nn.Module):
    def __init__(self, d=256, h=128, z=8):
        super().__init__()
        self.enc = nn.Sequential(nn.Linear(d, h), nn.ReLU())
        self.mu = nn.Linear(h, z)
        self.logvar = nn.Linear(h, z)
        self.dec = nn.Sequential(nn.Linear(z, h), nn.ReLU(), nn.Linear(h, d))

    def forward(self, x):
        h = self.enc(x)
        mu, logvar = self.mu(h), self.logvar(h)
        z = Normal(mu, torch.exp(0.5 * logvar)).rsample()
        return self.dec(z), mu, logvar


def vae_loss(logits, x, mu, logvar):
    recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return (recon + kl) / x.shape[0], recon / x.shape[0]


model = VAE()
opt = torch.optim.Adam(model.parameters(), lr=1e-3)

for epoch in range(10):
    perm = torch.randperm(len(data))
    total, rec_total = 0.0, 0.0
    for i in range(0, len(data), 128):
        x = data[perm[i:i + 128]]
        logits, mu, logvar = model(x)
        loss, rec = vae_loss(logits, x, mu, logvar)
        opt.zero_grad()
        loss.backward()
        opt.step()
        total += loss.item() * len(x)
        rec_total += rec.item() * len(x)
    print(f"epoch {epoch}: loss per image {total / len(data):.3f}  recon {rec_total / len(data):.3f}")
