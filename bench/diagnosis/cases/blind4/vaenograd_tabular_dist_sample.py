# source: https://github.com/AntixK/PyTorch-VAE/issues/12 ("Why not use rsample() PyTorch?") and https://github.com/nicola-decao/s-vae-pytorch/issues/9 (sample() vs rsample(): gradients do not reach the encoder)
# expect: graph-break
# category: vae
# bug: TabularVAE.encode_sample() draws z with Normal(mu, std).sample(), which is not reparameterized; the reconstruction loss sends no gradient to the encoder, only the KL term does, so the posterior collapses onto the prior and reconstructions stay at the column means
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.distributions import Normal, kl_divergence
from torch.utils.data import DataLoader, Dataset

torch.manual_seed(0)
np.random.seed(0)


class CustomerTable(Dataset):
    """Synthetic customer records: 18 numeric columns generated from 3 hidden traits."""

    def __init__(self, n=8000):
        traits = np.random.randn(n, 3)
        W1 = np.random.randn(3, 12)
        W2 = np.random.randn(12, 18) / np.sqrt(12)
        x = np.tanh(traits @ W1) @ W2 + 0.05 * np.random.randn(n, 18)
        x = (x - x.mean(0)) / x.std(0)
        self.x = torch.tensor(x, dtype=torch.float32)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i]


class TabularVAE(nn.Module):
    def __init__(self, d_in=18, d_lat=4, h=128):
        super().__init__()
        self.enc = nn.Sequential(nn.Linear(d_in, h), nn.SiLU(), nn.Linear(h, h), nn.SiLU())
        self.mu = nn.Linear(h, d_lat)
        self.logvar = nn.Linear(h, d_lat)
        self.dec = nn.Sequential(nn.Linear(d_lat, h), nn.SiLU(), nn.Linear(h, h), nn.SiLU(), nn.Linear(h, d_in))

    def encode_sample(self, x):
        h = self.enc(x)
        q = Normal(self.mu(h), torch.exp(0.5 * self.logvar(h)))
        return q.sample(), q

    def forward(self, x):
        z, q = self.encode_sample(x)
        return self.dec(z), q


data = CustomerTable()
loader = DataLoader(data, batch_size=128, shuffle=True)
model = TabularVAE()
opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-5)
prior = Normal(torch.zeros(4), torch.ones(4))

for epoch in range(1, 11):
    tot_rec = tot_kl = 0.0
    for x in loader:
        recon, q = model(x)
        rec = F.mse_loss(recon, x, reduction="none").sum(1).mean()
        kl = kl_divergence(q, prior).sum(1).mean()
        loss = rec + kl
        opt.zero_grad()
        loss.backward()
        opt.step()
        tot_rec += rec.item() * len(x); tot_kl += kl.item() * len(x)
    print(f"epoch {epoch:2d}  recon {tot_rec / len(data):.3f}  kl {tot_kl / len(data):.3f}  "
          f"elbo-loss {(tot_rec + tot_kl) / len(data):.3f}")
