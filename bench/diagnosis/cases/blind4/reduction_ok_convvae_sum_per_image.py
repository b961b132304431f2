# source: pytorch/examples vae/main.py loss_function (BCE with reduction='sum' plus KL summed over latents) and Kingma & Welling 2014 ELBO; Stack Overflow answers explaining that both ELBO terms must use the same per-image reduction
# expect: healthy
# category: vae
# bug: none - reconstruction BCE and KL are both summed per image and then averaged over the batch, which is the per-example negative ELBO; the large-looking loss values are just per-image sums, and Adam is insensitive to that overall scale
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

torch.manual_seed(41)
np.random.seed(41)
S = 20


class Glyphs(Dataset):
    """Channels-first 1x20x20 images: crosses, rings and bars at random positions."""

    def __init__(self, n, seed):
        rng = np.random.default_rng(seed)
        yy, xx = np.mgrid[:S, :S]
        self.x = np.zeros((n, 1, S, S), np.float32)
        for k in range(n):
            cy, cx = rng.integers(5, S - 5, 2)
            kind = rng.integers(0, 3)
            if kind == 0:
                m = (np.abs(yy - cy) <= 1) & (np.abs(xx - cx) <= 4) | (np.abs(xx - cx) <= 1) & (np.abs(yy - cy) <= 4)
            elif kind == 1:
                d = np.sqrt((yy - cy) ** 2 + (xx - cx) ** 2)
                m = (d >= 2.5) & (d <= 4.2)
            else:
                m = (np.abs(yy - cy) <= 4) & (np.abs(xx - cx) <= 1 + rng.integers(0, 3))
            self.x[k, 0] = m

    def __len__(self):
        return len(self.x)

    def __getitem__(self, k):
        return torch.from_numpy(self.x[k])


class ConvVAE(nn.Module):
    def __init__(self, z=8):
        super().__init__()
        self.enc = nn.Sequential(
            nn.Conv2d(1, 16, 4, 2, 1), nn.ReLU(),        # 10x10
            nn.Conv2d(16, 32, 4, 2, 1), nn.ReLU(),       # 5x5
            nn.Flatten(), nn.Linear(32 * 25, 128), nn.ReLU(),
        )
        self.mu, self.logvar = nn.Linear(128, z), nn.Linear(128, z)
        self.dec_fc = nn.Sequential(nn.Linear(z, 128), nn.ReLU(), nn.Linear(128, 32 * 25), nn.ReLU())
        self.dec = nn.Sequential(
            nn.ConvTranspose2d(32, 16, 4, 2, 1), nn.ReLU(),
            nn.ConvTranspose2d(16, 1, 4, 2, 1),
        )

    def forward(self, x):
        h = self.enc(x)
        mu, logvar = self.mu(h), self.logvar(h)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.dec(self.dec_fc(z).view(-1, 32, 5, 5)), mu, logvar


def neg_elbo(logits, x, mu, logvar):
    B = x.size(0)
    rec = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / B
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / B
    return rec + kld, rec, kld


train_dl = DataLoader(Glyphs(4000, 0), batch_size=64, shuffle=True)
test = torch.from_numpy(Glyphs(500, 1).x)
model = ConvVAE()
opt = torch.optim.Adam(model.parameters(), lr=2e-3)
for epoch in range(1, 8):
    model.train()
    tot = np.zeros(3)
    for xb in train_dl:
        logits, mu, logvar = model(xb)
        loss, rec, kld = neg_elbo(logits, xb, mu, logvar)
        opt.zero_grad()
        loss.backward()
        opt.step()
        tot += [loss.item(), rec.item(), kld.item()]
    tot /= len(train_dl)
    model.eval()
    with torch.no_grad():
        h = model.enc(test)
        rec_img = torch.sigmoid(model.dec(model.dec_fc(model.mu(h)).view(-1, 32, 5, 5)))
        wrong = (rec_img.round() != test).float().sum((1, 2, 3)).mean().item()
    print(f"epoch {epoch} -elbo {tot[0]:.2f} (rec {tot[1]:.2f}, kl {tot[2]:.2f}) test wrong px/img {wrong:.2f}")
