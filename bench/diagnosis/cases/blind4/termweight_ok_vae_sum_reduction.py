# source: pytorch/examples vae/main.py loss_function (binary_cross_entropy with reduction='sum' plus a summed KLD, the standard per-sample ELBO); here both terms are summed over their own dims and divided by the batch size
# expect: healthy
# category: vae
# bug: none - both the reconstruction BCE and the KL are summed over their own dimensions (pixels / latents) and then both divided by the batch size, so the printed loss is large (~100 nats) but the two ELBO terms stay on the same per-sample scale
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
np.random.seed(0)

H = W = 20
Z = 6


def sprites(n, rng):
    """Binary sprites: an axis-aligned bar or a blob at a random place."""
    yy, xx = np.mgrid[0:H, 0:W]
    out = np.zeros((n, H * W), np.float32)
    for k in range(n):
        cx, cy = rng.uniform(4, W - 4), rng.uniform(4, H - 4)
        if rng.rand() < 0.5:
            r = rng.uniform(2, 4)
            img = (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r
        else:
            if rng.rand() < 0.5:
                img = (np.abs(xx - cx) <= 1) & (np.abs(yy - cy) <= rng.uniform(3, 6))
            else:
                img = (np.abs(yy - cy) <= 1) & (np.abs(xx - cx) <= rng.uniform(3, 6))
        out[k] = img.reshape(-1)
    return torch.from_numpy(out)


class VAE(nn.Module):
    def __init__(self, d=H * W, h=256, z=Z):
        super().__init__()
        self.fc1 = nn.Linear(d, h)
        self.fc_mu = nn.Linear(h, z)
        self.fc_lv = nn.Linear(h, z)
        self.fc3 = nn.Linear(z, h)
        self.fc4 = nn.Linear(h, d)

    def encode(self, x):
        h = F.relu(self.fc1(x))
        return self.fc_mu(h), self.fc_lv(h)

    def decode(self, z):
        return torch.sigmoid(self.fc4(F.relu(self.fc3(z))))

    def forward(self, x):
        mu, lv = self.encode(x)
        z = mu + torch.exp(0.5 * lv) * torch.randn_like(mu)
        return self.decode(z), mu, lv


def loss_function(recon_x, x, mu, logvar):
    bce = F.binary_cross_entropy(recon_x, x, reduction="sum")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    n = x.size(0)
    return (bce + kld) / n, bce / n, kld / n


rng = np.random.RandomState(1)
train = sprites(6000, rng)
test = sprites(1000, rng)
model = VAE()
opt = torch.optim.Adam(model.parameters(), lr=1e-3)

for epoch in range(1, 11):
    model.train()
    perm = torch.randperm(len(train))
    total = 0.0
    for i, s in enumerate(range(0, len(train), 100)):
        x = train[perm[s:s + 100]]
        recon, mu, lv = model(x)
        loss, bce, kld = loss_function(recon, x, mu, lv)
        opt.zero_grad()
        loss.backward()
        opt.step()
        total += loss.item() * len(x)
        if i % 30 == 0:
            print(f"Train Epoch: {epoch} [{s}/{len(train)}]  Loss: {loss.item():.2f} (rec {bce.item():.2f}, kl {kld.item():.2f})")
    model.eval()
    with torch.no_grad():
        mu, _ = model.encode(test)
        rec = model.decode(mu)
        pix_err = ((rec > 0.5).float() != test).float().mean().item()
    print(f"====> Epoch: {epoch} Average loss: {total / len(train):.2f}   test pixel error {pix_err:.4f}")
