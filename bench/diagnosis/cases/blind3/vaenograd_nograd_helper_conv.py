# source: https://github.com/AntixK/PyTorch-VAE/issues/12
# expect: graph-break
# category: vae
# bug: the reparameterize helper is decorated with @torch.no_grad() ("sampling needs no grad"), so mu/logvar get no gradient from the reconstruction
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

CONFIG = dict(latent_dim=6, lr=2e-3, weight_decay=0.0, batch_size=64, epochs=6, beta=1.0, seed=1)


class BlobDataset(Dataset):
    """12x12 single-channel images of a gaussian blob at a random position and width."""

    def __init__(self, n, seed):
        g = torch.Generator().manual_seed(seed)
        self.cy = torch.rand(n, generator=g) * 8 + 2
        self.cx = torch.rand(n, generator=g) * 8 + 2
        self.w = torch.rand(n, generator=g) * 1.5 + 1.0
        yy, xx = torch.meshgrid(torch.arange(12.0), torch.arange(12.0), indexing="ij")
        self.yy, self.xx = yy, xx

    def __len__(self):
        return len(self.cy)

    def __getitem__(self, i):
        d2 = (self.yy - self.cy[i]) ** 2 + (self.xx - self.cx[i]) ** 2
        return torch.exp(-d2 / (2 * self.w[i] ** 2)).unsqueeze(0)


@torch.no_grad()
def reparameterize(mu, logvar):
    std = torch.exp(0.5 * logvar)
    return mu + std * torch.randn_like(std)


class ConvVAE(nn.Module):
    def __init__(self, latent_dim):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv2d(1, 16, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU(), nn.Flatten())
        self.fc_mu = nn.Linear(32 * 3 * 3, latent_dim)
        self.fc_logvar = nn.Linear(32 * 3 * 3, latent_dim)
        self.fc_dec = nn.Linear(latent_dim, 32 * 3 * 3)
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(32, 16, 4, stride=2, padding=1), nn.ReLU(),
            nn.ConvTranspose2d(16, 1, 4, stride=2, padding=1))

    def encode(self, x):
        h = self.encoder(x)
        return self.fc_mu(h), self.fc_logvar(h)

    def decode(self, z):
        return self.decoder(self.fc_dec(z).view(-1, 32, 3, 3))

    def forward(self, x):
        mu, logvar = self.encode(x)
        z = reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


def vae_loss(recon, x, mu, logvar, beta):
    rec = F.mse_loss(recon, x, reduction="sum") / x.size(0)
    kld = -0.5 * torch.mean(torch.sum(1 + logvar - mu ** 2 - logvar.exp(), dim=1))
    return rec + beta * kld, rec, kld


def train_one_epoch(model, loader, opt, beta):
    stats = torch.zeros(3)
    for x in loader:
        recon, mu, logvar = model(x)
        loss, rec, kld = vae_loss(recon, x, mu, logvar, beta)
        opt.zero_grad()
        loss.backward()
        opt.step()
        stats += torch.tensor([loss.item(), rec.item(), kld.item()])
    return stats / len(loader)


def main(cfg):
    torch.manual_seed(cfg["seed"])
    loader = DataLoader(BlobDataset(2048, cfg["seed"]), batch_size=cfg["batch_size"], shuffle=True)
    model = ConvVAE(cfg["latent_dim"])
    opt = torch.optim.AdamW(model.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    for epoch in range(cfg["epochs"]):
        loss, rec, kld = train_one_epoch(model, loader, opt, cfg["beta"]).tolist()
        print(f"epoch {epoch} | loss {loss:.4f} | recon {rec:.4f} | kl {kld:.4f}")


if __name__ == "__main__":
    main(CONFIG)
