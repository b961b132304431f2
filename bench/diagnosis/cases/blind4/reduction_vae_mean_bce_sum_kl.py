# source: Stack Overflow questions on "VAE reconstructs the same image for every input" traced to F.binary_cross_entropy(..., reduction='mean') next to a summed KL; reference pytorch/examples vae/main.py uses reduction='sum' for the BCE
# expect: loss-imbalance, wrong-loss-reduction
# category: vae
# bug: vae_loss() averages the BCE over every pixel (reduction='mean', ~1/400 of a per-image sum) but sums the KL over the latent dims per image; the KL term is weighted ~400x too strongly, the encoder collapses to the prior (KL ~ 0) and the decoder outputs the same blurry mean sprite for every input
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(3)
np.random.seed(3)
S = 20


def sprites(n, rng):
    """dSprites-like: one filled rectangle or ellipse per image, random position/scale."""
    yy, xx = np.mgrid[:S, :S]
    out = np.zeros((n, S * S), np.float32)
    for k in range(n):
        h, w = rng.integers(3, 9, 2)
        cy, cx = rng.integers(h // 2 + 1, S - h // 2 - 1), rng.integers(w // 2 + 1, S - w // 2 - 1)
        if rng.random() < 0.5:
            m = (np.abs(yy - cy) <= h / 2) & (np.abs(xx - cx) <= w / 2)
        else:
            m = ((yy - cy) / (h / 2)) ** 2 + ((xx - cx) / (w / 2)) ** 2 <= 1
        out[k] = m.reshape(-1)
    return out


class VAE(nn.Module):
    def __init__(self, d=S * S, h=256, z=10):
        super().__init__()
        self.enc = nn.Sequential(nn.Linear(d, h), nn.ReLU(), nn.Linear(h, h), nn.ReLU())
        self.mu = nn.Linear(h, z)
        self.logvar = nn.Linear(h, z)
        self.dec = nn.Sequential(nn.Linear(z, h), nn.ReLU(), nn.Linear(h, h), nn.ReLU(), nn.Linear(h, d))

    def forward(self, x):
        e = self.enc(x)
        mu, logvar = self.mu(e), self.logvar(e)
        zs = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.dec(zs), mu, logvar


def vae_loss(logits, x, mu, logvar):
    rec = F.binary_cross_entropy_with_logits(logits, x, reduction="mean")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=1).mean()
    return rec + kld, rec, kld


rng = np.random.default_rng(3)
train = torch.from_numpy(sprites(5000, rng))
test = torch.from_numpy(sprites(1000, rng))
loader = DataLoader(TensorDataset(train), batch_size=64, shuffle=True)
model = VAE()
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
for epoch in range(1, 8):
    agg = np.zeros(3)
    for (xb,) in loader:
        logits, mu, logvar = model(xb)
        loss, rec, kld = vae_loss(logits, xb, mu, logvar)
        opt.zero_grad()
        loss.backward()
        opt.step()
        agg += [loss.item(), rec.item(), kld.item()]
    agg /= len(loader)
    with torch.no_grad():
        mu_t = model.mu(model.enc(test))
        recon = torch.sigmoid(model.dec(mu_t))
        pix_err = (recon.round() != test).float().sum(1).mean().item()
    print(f"epoch {epoch:2d} loss {agg[0]:.4f} rec {agg[1]:.4f} kl {agg[2]:.4f} | test wrong pixels/img {pix_err:.1f}")
