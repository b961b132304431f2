# source: https://github.com/zfjsail/gae-pytorch/issues/8 (reparameterized sampling z = mean + exp(0.5*logvar) * epsilon) and PyTorch distributions docs, "Pathwise derivative" (only the noise may be drawn without gradient)
# expect: healthy
# category: vae
# bug: none - only the standard-normal noise eps is drawn inside torch.no_grad() (it needs no gradient); z = mu + eps * std is formed outside, so the basket encoder gets the reconstruction gradient. Bernoulli(...).sample() and the .detach() on the KL are used only for generating baskets and for logging/annealing
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

np.random.seed(1)
torch.manual_seed(1)

N_ITEMS, N_TYPES = 60, 6
PREFS = np.random.dirichlet(np.ones(N_ITEMS) * 0.15, size=N_TYPES)


def make_baskets(n):
    """Binary purchase vectors from 6 shopper types with overlapping item preferences."""
    prefs = PREFS
    kind = np.random.randint(0, N_TYPES, n)
    mix = np.random.rand(n, 1)
    other = np.random.randint(0, N_TYPES, n)
    p = np.clip(6 * (mix * prefs[kind] + (1 - mix) * prefs[other]), 0, 0.95)
    return torch.tensor((np.random.rand(n, N_ITEMS) < p).astype(np.float32))


class BasketVAE(nn.Module):
    def __init__(self, z=5, h=128):
        super().__init__()
        self.enc = nn.Sequential(nn.Linear(N_ITEMS, h), nn.ReLU(), nn.Linear(h, 2 * z))
        self.dec = nn.Sequential(nn.Linear(z, h), nn.ReLU(), nn.Linear(h, N_ITEMS))
        self.z = z

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=-1)
        std = torch.exp(0.5 * logvar)
        with torch.no_grad():
            eps = torch.randn_like(std)
        z = mu + eps * std
        return self.dec(z), mu, logvar

    @torch.no_grad()
    def generate(self, n):
        logits = self.dec(torch.randn(n, self.z))
        return torch.distributions.Bernoulli(logits=logits).sample()


train, valid = make_baskets(8000), make_baskets(1000)
model = BasketVAE()
opt = torch.optim.RMSprop(model.parameters(), lr=1e-3)
kl_hist = []
step = 0
for epoch in range(1, 13):
    perm = torch.randperm(len(train))
    for i in range(0, len(train), 128):
        x = train[perm[i:i + 128]]
        logits, mu, logvar = model(x)
        rec = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / len(x)
        kl = (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp())).sum(1).mean()
        beta = min(1.0, step / 500)                     # KL warm-up
        loss = rec + beta * kl
        opt.zero_grad()
        loss.backward()
        opt.step()
        kl_hist.append(kl.detach())
        step += 1
    with torch.no_grad():
        vl, vm, vv = model(valid)
        v_rec = F.binary_cross_entropy_with_logits(vl, valid, reduction="sum").item() / len(valid)
        gen_rate = model.generate(1000).mean().item()
    print(f"epoch {epoch:2d}  beta {beta:.2f}  train rec {rec.item():7.3f}  kl {torch.stack(kl_hist[-60:]).mean():.3f}  "
          f"valid rec {v_rec:7.3f}  generated basket fill {gen_rate:.3f} (data {train.mean():.3f})")
