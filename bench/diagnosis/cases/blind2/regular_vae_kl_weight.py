# source: https://github.com/luigibonati/mlcolvar/pull/188
# expect: over-regularization
# category: vae
# bug: the KL term of the VAE is multiplied by kl_weight=50 while the reconstruction is a per-element mean; the KL dominates, the posterior collapses onto the prior and reconstructions are the data mean
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(25)

# 32-dim observations generated from 2 latent factors (a curved manifold)
n = 3000
z_true = torch.randn(n, 2)
A = torch.randn(2, 32)
B = torch.randn(2, 32)
data = torch.tanh(z_true @ A) + 0.5 * torch.sin(z_true @ B) + 0.05 * torch.randn(n, 32)


class VAE(nn.Module):
    def __init__(self, d=32, h=128, k=4):
        super().__init__()
        self.enc = nn.Sequential(nn.Linear(d, h), nn.ReLU(), nn.Linear(h, h), nn.ReLU())
        self.mu = nn.Linear(h, k)
        self.logvar = nn.Linear(h, k)
        self.dec = nn.Sequential(nn.Linear(k, h), nn.ReLU(), nn.Linear(h, h), nn.ReLU(), nn.Linear(h, d))

    def forward(self, x):
        e = self.enc(x)
        mu, logvar = self.mu(e), self.logvar(e)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.dec(z), mu, logvar


vae = VAE()
opt = torch.optim.Adam(vae.parameters(), lr=1e-3)
kl_weight = 50.0

for step in range(400):
    x = data[torch.randint(0, 2600, (128,))]
    recon, mu, logvar = vae(x)
    rec = F.mse_loss(recon, x)
    kl = -0.5 * torch.mean(torch.sum(1 + logvar - mu ** 2 - logvar.exp(), dim=1))
    loss = rec + kl_weight * kl
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 40 == 0:
        print(f"step {step:3d} loss {loss.item():.4f} recon {rec.item():.4f} kl {kl.item():.4f}")

with torch.no_grad():
    recon, _, _ = vae(data[2600:])
    print(f"held-out recon mse {F.mse_loss(recon, data[2600:]).item():.4f}  (data variance {data[2600:].var(0).mean().item():.4f})")
