# source: https://github.com/zdebruine/MMVAE/pull/19
# expect: loss-imbalance
# category: vae
# bug: the VAE's reconstruction is a per-element mean MSE while the KL is summed over latent dims and the whole batch, so KL dominates and the posterior collapses (reconstructions stay at the mean)
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(33)
n, d, latent = 2000, 24, 4
z_true = torch.randn(n, 2)
W = torch.randn(2, d)
data = torch.tanh(z_true @ W) + 0.05 * torch.randn(n, d)


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Sequential(nn.Linear(d, 64), nn.ReLU())
        self.mu = nn.Linear(64, latent)
        self.logvar = nn.Linear(64, latent)
        self.dec = nn.Sequential(nn.Linear(latent, 64), nn.ReLU(), nn.Linear(64, d))

    def forward(self, x):
        h = self.enc(x)
        mu, logvar = self.mu(h), self.logvar(h)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.dec(z), mu, logvar


vae = VAE()
opt = torch.optim.Adam(vae.parameters(), lr=2e-3)
for epoch in range(12):
    perm = torch.randperm(n)
    for i in range(0, n, 100):
        x = data[perm[i:i + 100]]
        recon, mu, logvar = vae(x)
        rec = F.mse_loss(recon, x)
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        loss = rec + kl
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        recon, mu, logvar = vae(data)
        rec_all = F.mse_loss(recon, data).item()
    print(f"epoch {epoch} loss {loss.item():.4f} recon {rec:.4f} kl {kl.item():.4f} full-data recon {rec_all:.4f} (data var {data.var(0).mean().item():.4f})")
