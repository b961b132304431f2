# source: https://forecastegy.com/tags/python/page/3
# expect: healthy
# category: tabular
# bug: healthy - heavy-tailed raw columns (follower counts up to 1e6, account age in days) are log1p-transformed and standardised with statistics fitted on the training rows only
import numpy as np
import torch
import torch.nn as nn


class Standardizer:
    def fit(self, a):
        self.mu, self.sd = a.mean(0), a.std(0) + 1e-8
        return self

    def transform(self, a):
        return (a - self.mu) / self.sd


rng = np.random.default_rng(18)
torch.manual_seed(18)

n = 3500
followers = rng.lognormal(6, 2.0, n)
posts = rng.lognormal(4, 1.2, n)
age_days = rng.uniform(1, 4000, n)
link_ratio = rng.beta(2, 6, n)
z = -1.2 * (np.log1p(followers) - 6) / 2 + 3.0 * (link_ratio - 0.25) * 4 - 0.8 * (np.log1p(age_days) - 7)
is_bot = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(np.float32)

raw = np.stack([np.log1p(followers), np.log1p(posts), np.log1p(age_days), link_ratio], 1)
scaler = Standardizer().fit(raw[:2800])
X = torch.tensor(scaler.transform(raw), dtype=torch.float32)
y = torch.tensor(is_bot)

clf = nn.Sequential(nn.Linear(4, 32), nn.GELU(), nn.Linear(32, 32), nn.GELU(), nn.Linear(32, 1))
opt = torch.optim.Adam(clf.parameters(), lr=3e-3)
bce = nn.BCEWithLogitsLoss()

for epoch in range(8):
    perm = torch.randperm(2800)
    for i in range(0, 2800, 100):
        idx = perm[i:i + 100]
        loss = bce(clf(X[idx]).squeeze(1), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        val_logits = clf(X[2800:]).squeeze(1)
        val_loss = bce(val_logits, y[2800:]).item()
        acc = ((val_logits > 0).float() == y[2800:]).float().mean().item()
    print(f"epoch {epoch} train {loss.item():.4f} val {val_loss:.4f} acc {acc:.3f}")
