# source: https://github.com/wiseodd/generative-models/issues/40
# expect: healthy
# category: vae
# bug: none — a VAE whose reconstruction and KL terms are both summed over their dims and averaged over the batch (the ELBO per sample)
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(36)
n, d, latent = 2000, 24, 4
z_true = torch.randn(n, 2)
W = torch.randn(2, d)
data = torch.tanh(z_true @ W) + 0.05 * torch.randn(n, d)

enc = nn.Sequential(nn.Linear(d, 64), nn.ReLU(), nn.Linear(64, 2 * latent))
dec = nn.Sequential(nn.Linear(latent, 64), nn.ReLU(), nn.Linear(64, d))
params = list(enc.parameters()) + list(dec.parameters())
opt = torch.optim.Adam(params, lr=2e-3)

for epoch in range(12):
    perm = torch.randperm(n)
    for i in range(0, n, 100):
        x = data[perm[i:i + 100]]
        mu, logvar = enc(x).chunk(2, dim=1)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        recon = dec(z)
        rec = F.mse_loss(recon, x, reduction="none").sum(1).mean()
        kl = (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1)).mean()
        loss = rec + 0.1 * kl
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        mu, logvar = enc(data).chunk(2, dim=1)
        err = F.mse_loss(dec(mu), data).item()
    print(f"epoch {epoch} loss {loss.item():.4f} rec {rec.item():.4f} kl {kl.item():.4f} per-element recon mse {err:.4f}")
