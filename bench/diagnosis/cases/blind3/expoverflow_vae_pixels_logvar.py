# source: https://github.com/emited/VariationalRecurrentNeuralNetwork/issues/2
# expect: nonfinite-forward, loss-divergence, nonfinite-backward, unnormalized-inputs
# category: vae
# bug: the encoder's log-variance head is unbounded and feeds exp(0.5*logvar) / logvar.exp(); on raw 0-255 pixels it grows past 88 within a few steps, exp overflows and the VAE loss goes NaN
import torch
import torch.nn as nn
import torch.nn.functional as F

config = dict(latent=8, lr=1e-4, batch_size=64, steps=200, seed=8, log_every=20)
torch.manual_seed(config["seed"])


def synthetic_digits(n, size=16):
    """blobs drawn at random places, stored as uint8 like a raw image dataset"""
    yy, xx = torch.meshgrid(torch.arange(size).float(), torch.arange(size).float(), indexing="ij")
    cx = torch.randint(3, size - 3, (n, 1, 1)).float()
    cy = torch.randint(3, size - 3, (n, 1, 1)).float()
    r = 1.5 + torch.rand(n, 1, 1) * 2
    img = torch.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r ** 2))
    return (img * 255).to(torch.uint8).unsqueeze(1)


class Encoder(nn.Module):
    def __init__(self, z):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(1, 16, 4, 2, 1), nn.ReLU(),
            nn.Conv2d(16, 32, 4, 2, 1), nn.ReLU(), nn.Flatten())
        self.mu = nn.Linear(32 * 4 * 4, z)
        self.logvar = nn.Linear(32 * 4 * 4, z)

    def forward(self, x):
        h = self.conv(x)
        return self.mu(h), self.logvar(h)


class Decoder(nn.Module):
    def __init__(self, z):
        super().__init__()
        self.fc = nn.Linear(z, 32 * 4 * 4)
        self.deconv = nn.Sequential(
            nn.ConvTranspose2d(32, 16, 4, 2, 1), nn.ReLU(),
            nn.ConvTranspose2d(16, 1, 4, 2, 1))

    def forward(self, z):
        return self.deconv(F.relu(self.fc(z)).view(-1, 32, 4, 4))


def reparameterize(mu, logvar):
    std = torch.exp(0.5 * logvar)
    return mu + std * torch.randn_like(std)


def vae_loss(recon, x, mu, logvar):
    rec = F.mse_loss(recon, x, reduction="sum") / x.size(0)
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / x.size(0)
    return rec + kld, rec, kld


def train(cfg):
    data = synthetic_digits(2048).float()
    enc, dec = Encoder(cfg["latent"]), Decoder(cfg["latent"])
    params = list(enc.parameters()) + list(dec.parameters())
    opt = torch.optim.SGD(params, lr=cfg["lr"], momentum=0.9)
    for step in range(1, cfg["steps"] + 1):
        idx = torch.randint(0, len(data), (cfg["batch_size"],))
        x = data[idx]
        mu, logvar = enc(x)
        z = reparameterize(mu, logvar)
        loss, rec, kld = vae_loss(dec(z), x, mu, logvar)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step == 1 or step % cfg["log_every"] == 0:
            print(f"step {step:4d} loss {loss.item():.2f} rec {rec.item():.2f} kld {kld.item():.2f}")


if __name__ == "__main__":
    train(config)
