# source: https://github.com/FluxML/model-zoo/pull/147
# expect: loss-sign-flipped
# category: vae
# bug: the closed-form KL term is added with the wrong sign (the -KL expression 0.5*sum(1 + logvar - mu^2 - exp(logvar)) is added to the reconstruction loss), so training maximizes the KL: the posterior variances blow up and the loss runs to -inf / NaN
"""MLP VAE on 16x16 binary sprites (8 shapes, shifted)."""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

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
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        return self.dec(z), mu, logvar


def vae_loss(logits, x, mu, logvar):
    recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
    kl_term = 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())   # this is -KL
    return (recon + kl_term) / x.shape[0]                              # BUG: should be recon - kl_term


model = VAE()
opt = torch.optim.Adam(model.parameters(), lr=1e-3)

for epoch in range(10):
    perm = torch.randperm(len(data))
    total = 0.0
    for i in range(0, len(data), 128):
        x = data[perm[i:i + 128]]
        logits, mu, logvar = model(x)
        loss = vae_loss(logits, x, mu, logvar)
        opt.zero_grad()
        loss.backward()
        opt.step()
        total += loss.item() * len(x)
    print(f"epoch {epoch}: loss per image {total / len(data):.3f}  mean logvar {logvar.mean().item():.2f}")
