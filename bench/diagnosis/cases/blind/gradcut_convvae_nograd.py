# source: https://www.chenk.top/en/standalone/vae-guide/
# expect: graph-break, optimizer-params-unused, no-grad-training
# category: vae
# bug: the reparameterisation helper samples z inside torch.no_grad(), so the conv encoder gets gradient from the KL term only and never learns to encode
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(1)


def make_blobs(n, size=16):
    # one bright gaussian blob per image at a random position
    ys = torch.rand(n) * (size - 4) + 2
    xs = torch.rand(n) * (size - 4) + 2
    grid = torch.arange(size).float()
    gy = (grid[None, :] - ys[:, None]) ** 2
    gx = (grid[None, :] - xs[:, None]) ** 2
    img = torch.exp(-(gy[:, :, None] + gx[:, None, :]) / 4.0)
    return img.unsqueeze(1)


images = make_blobs(1024)


def reparameterize(mu, logvar):
    with torch.no_grad():
        std = torch.exp(0.5 * logvar)
        eps = torch.randn_like(std)
        z = mu + eps * std
    return z


class ConvVAE(nn.Module):
    def __init__(self, latent=8):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv2d(1, 16, 4, 2, 1), nn.ReLU(),
            nn.Conv2d(16, 32, 4, 2, 1), nn.ReLU(),
            nn.Flatten(),
        )
        self.fc_mu = nn.Linear(32 * 4 * 4, latent)
        self.fc_logvar = nn.Linear(32 * 4 * 4, latent)
        self.fc_dec = nn.Linear(latent, 32 * 4 * 4)
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(32, 16, 4, 2, 1), nn.ReLU(),
            nn.ConvTranspose2d(16, 1, 4, 2, 1),
        )

    def forward(self, x):
        h = self.encoder(x)
        mu, logvar = self.fc_mu(h), self.fc_logvar(h)
        z = reparameterize(mu, logvar)
        out = self.decoder(self.fc_dec(z).view(-1, 32, 4, 4))
        return out, mu, logvar


def vae_loss(logits, x, mu, logvar):
    bce = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / x.size(0)
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / x.size(0)
    return bce + kld, bce, kld


model = ConvVAE()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

step = 0
for epoch in range(8):
    perm = torch.randperm(images.size(0))
    for i in range(0, images.size(0), 32):
        x = images[perm[i:i + 32]]
        logits, mu, logvar = model(x)
        loss, bce, kld = vae_loss(logits, x, mu, logvar)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 40 == 0:
            print(f"epoch {epoch} step {step:3d} loss {loss.item():.2f} (bce {bce.item():.2f}, kl {kld.item():.3f})")
        step += 1
print(f"final loss {loss.item():.2f} (bce {bce.item():.2f}, kl {kld.item():.3f})")
