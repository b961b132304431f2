# source: https://github.com/StanfordASL/Trajectron-plus-plus/issues/15 (which paths carry gradient to the encoder of a CVAE: the KL term vs. the reparameterized z samples); numpy round-trip variant of the sampling step
# expect: graph-break
# category: vae
# bug: SeqVAE.sample_latent() builds z in numpy (mu.detach().numpy() + std * np.random.randn) so that the noise follows np.random.seed, then wraps it back with torch.from_numpy; z has no graph, the GRU encoder only sees the KL gradient, the posterior collapses and every series is reconstructed as the same average curve
import numpy as np
import torch
import torch.nn as nn

np.random.seed(0)
torch.manual_seed(0)

T, N_SERIES = 32, 2000


def make_series(n):
    t = np.linspace(0, 1, T)
    f = np.random.uniform(1, 4, (n, 1))
    ph = np.random.uniform(0, 2 * np.pi, (n, 1))
    amp = np.random.uniform(0.5, 1.5, (n, 1))
    trend = np.random.uniform(-1, 1, (n, 1))
    x = amp * np.sin(2 * np.pi * f * t + ph) + trend * t + 0.05 * np.random.randn(n, T)
    return torch.tensor(x[..., None], dtype=torch.float32)   # [n, T, 1] batch-first


class SeqVAE(nn.Module):
    def __init__(self, hid=48, z_dim=6):
        super().__init__()
        self.encoder = nn.GRU(1, hid, batch_first=True, bidirectional=True)
        self.to_mu = nn.Linear(2 * hid, z_dim)
        self.to_logvar = nn.Linear(2 * hid, z_dim)
        self.z_to_h = nn.Linear(z_dim, hid)
        self.decoder = nn.GRU(z_dim, hid, batch_first=True)
        self.head = nn.Linear(hid, 1)

    def sample_latent(self, mu, logvar):
        std = np.exp(0.5 * logvar.detach().numpy())
        z = mu.detach().numpy() + std * np.random.randn(*std.shape).astype(np.float32)
        return torch.from_numpy(z.astype(np.float32))

    def forward(self, x):
        _, h = self.encoder(x)                       # h: [2, B, hid]
        h = torch.cat([h[0], h[1]], dim=-1)
        mu, logvar = self.to_mu(h), self.to_logvar(h)
        z = self.sample_latent(mu, logvar)
        h0 = torch.tanh(self.z_to_h(z)).unsqueeze(0)
        dec_in = z.unsqueeze(1).expand(-1, x.shape[1], -1)
        out, _ = self.decoder(dec_in, h0)
        return self.head(out), mu, logvar


data = make_series(N_SERIES)
model = SeqVAE()
opt = torch.optim.Adam(model.parameters(), lr=2e-3)
B = 64
BETA = 0.1   # light KL weight to avoid posterior collapse on short series
for epoch in range(1, 7):
    perm = torch.randperm(N_SERIES)
    sums = np.zeros(2)
    for i in range(0, N_SERIES, B):
        x = data[perm[i:i + B]]
        xhat, mu, logvar = model(x)
        rec = ((xhat - x) ** 2).sum(dim=(1, 2)).mean()
        kl = (-0.5 * (1 + logvar - mu ** 2 - logvar.exp()).sum(1)).mean()
        loss = rec + BETA * kl
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        sums += [rec.item() * len(x), kl.item() * len(x)]
    print(f"epoch {epoch}  recon SSE/series {sums[0] / N_SERIES:7.3f}  KL {sums[1] / N_SERIES:6.3f}")
