# source: https://github.com/pytorch/pytorch/issues/3322
# expect: healthy
# category: vae
# bug: none — VAE with per-image summed BCE reconstruction and summed KL, both divided by the batch size: the two terms are on the same per-sample scale (the ELBO)
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
SIDE = 10


def make_images(n):
    """Binary images of a bar at a random angle and offset."""
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, SIDE), torch.linspace(-1, 1, SIDE), indexing="ij")
    theta = torch.rand(n) * 3.1416
    off = (torch.rand(n) - 0.5)
    d = xx.unsqueeze(0) * torch.cos(theta).view(-1, 1, 1) + yy.unsqueeze(0) * torch.sin(theta).view(-1, 1, 1) - off.view(-1, 1, 1)
    return (d.abs() < 0.2).float().view(n, -1)


class VAE(nn.Module):
    def __init__(self, z_dim=4):
        super().__init__()
        self.enc = nn.Sequential(nn.Linear(SIDE * SIDE, 128), nn.ReLU())
        self.mu = nn.Linear(128, z_dim)
        self.logvar = nn.Linear(128, z_dim)
        self.dec = nn.Sequential(nn.Linear(z_dim, 128), nn.ReLU(), nn.Linear(128, SIDE * SIDE))

    def forward(self, x):
        h = self.enc(x)
        mu, logvar = self.mu(h), self.logvar(h)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.dec(z), mu, logvar


data = make_images(4000)
vae = VAE()
opt = torch.optim.Adam(vae.parameters(), lr=2e-3)

for step in range(400):
    x = data[torch.randint(0, len(data), (100,))]
    logits, mu, logvar = vae(x)
    recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    loss = (recon + kl) / x.size(0)
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 40 == 0 or step == 399:
        print(f"step {step:3d}  loss/img {loss.item():.3f}  recon/img {recon.item() / x.size(0):.3f}  kl/img {kl.item() / x.size(0):.3f}")
