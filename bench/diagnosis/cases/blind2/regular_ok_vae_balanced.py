# source: https://github.com/openai/vdvae/issues/10
# expect: healthy
# category: vae
# bug: healthy - VAE with the reconstruction summed over dimensions and the KL at weight 1 (the ELBO), plus a short KL warm-up; the KL term is present but does not dominate
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(29)

n = 3000
z_true = torch.randn(n, 2)
A = torch.randn(2, 24)
B = torch.randn(2, 24)
data = torch.tanh(z_true @ A) + 0.5 * torch.sin(z_true @ B) + 0.05 * torch.randn(n, 24)


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(24, 96), nn.Tanh(), nn.Linear(96, 96), nn.Tanh())
        self.mu, self.logvar = nn.Linear(96, 3), nn.Linear(96, 3)

    def forward(self, x):
        h = self.body(x)
        return self.mu(h), self.logvar(h)


enc = Encoder()
dec = nn.Sequential(nn.Linear(3, 96), nn.Tanh(), nn.Linear(96, 96), nn.Tanh(), nn.Linear(96, 24))
opt = torch.optim.Adam(list(enc.parameters()) + list(dec.parameters()), lr=2e-3)
noise_var = 0.05

for step in range(400):
    x = data[torch.randint(0, 2600, (128,))]
    mu, logvar = enc(x)
    z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
    rec = ((dec(z) - x) ** 2).sum(1).mean() / (2 * noise_var)
    kl = -0.5 * (1 + logvar - mu ** 2 - logvar.exp()).sum(1).mean()
    beta = min(1.0, step / 100)
    loss = rec + beta * kl
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 40 == 0:
        print(f"step {step:3d} elbo-loss {loss.item():.2f} rec {rec.item():.2f} kl {kl.item():.2f}")

with torch.no_grad():
    mu, _ = enc(data[2600:])
    print(f"held-out recon mse {F.mse_loss(dec(mu), data[2600:]).item():.4f}  (data variance {data[2600:].var(0).mean().item():.4f})")
