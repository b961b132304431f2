# source: https://runebook.dev/en/docs/pytorch/distributions/torch.distributions.normal.Normal.rsample
# expect: graph-break, optimizer-params-unused
# category: vae
# bug: the latent is drawn with Normal(mu, std).sample() instead of rsample(), so the reconstruction loss never reaches the encoder
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.distributions import Normal

torch.manual_seed(0)

# 2-D latent structure embedded in 20-D
N, D, K = 2048, 20, 2
codes = torch.randn(N, K)
mix = torch.randn(K, D)
data = torch.tanh(codes @ mix) + 0.05 * torch.randn(N, D)


class VAE(nn.Module):
    def __init__(self, d_in, d_lat, hidden=64):
        super().__init__()
        self.enc = nn.Sequential(nn.Linear(d_in, hidden), nn.ReLU(), nn.Linear(hidden, 2 * d_lat))
        self.dec = nn.Sequential(nn.Linear(d_lat, hidden), nn.ReLU(), nn.Linear(hidden, d_in))

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=-1)
        q = Normal(mu, torch.exp(0.5 * logvar))
        z = q.sample()
        return self.dec(z), mu, logvar


model = VAE(D, 4)
opt = torch.optim.Adam(model.parameters(), lr=2e-3)

for step in range(300):
    idx = torch.randint(0, N, (128,))
    x = data[idx]
    recon, mu, logvar = model(x)
    rec = F.mse_loss(recon, x, reduction="sum") / x.size(0)
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / x.size(0)
    loss = rec + kl
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 50 == 0 or step == 299:
        print(f"step {step:3d}  loss {loss.item():.3f}  recon {rec.item():.3f}  kl {kl.item():.3f}")
