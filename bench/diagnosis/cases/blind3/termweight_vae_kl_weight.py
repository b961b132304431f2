# source: https://github.com/emited/VariationalRecurrentNeuralNetwork/issues/2
# expect: over-regularization, loss-imbalance, metric-competing-losses
# category: vae
# bug: the config's kl_weight=25 multiplies a KL summed over latents against a per-pixel mean reconstruction BCE (~0.3): the KL term swamps it, the posterior collapses and the decoder only ever outputs the mean image
import torch
import torch.nn as nn
import torch.nn.functional as F

CONFIG = {
    "seed": 17,
    "img": 16,
    "latent": 6,
    "batch_size": 64,
    "lr": 3e-3,
    "steps": 240,
    "kl_weight": 25.0,
    "log_every": 30,
}


def make_dataset(n, size, g):
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(-1, 1, size), indexing="ij")
    cx = torch.rand(n, 1, 1, generator=g) * 1.4 - 0.7
    cy = torch.rand(n, 1, 1, generator=g) * 1.4 - 0.7
    r = 0.15 + 0.25 * torch.rand(n, 1, 1, generator=g)
    img = torch.sigmoid((r - torch.sqrt((xx - cx) ** 2 + (yy - cy) ** 2)) * 20)
    return img.unsqueeze(1)


class ConvVAE(nn.Module):
    def __init__(self, z):
        super().__init__()
        self.enc = nn.Sequential(
            nn.Conv2d(1, 16, 4, 2, 1), nn.ReLU(),
            nn.Conv2d(16, 32, 4, 2, 1), nn.ReLU(), nn.Flatten(),
            nn.Linear(32 * 16, 2 * z))
        self.dec_fc = nn.Linear(z, 32 * 16)
        self.dec = nn.Sequential(
            nn.ConvTranspose2d(32, 16, 4, 2, 1), nn.ReLU(),
            nn.ConvTranspose2d(16, 1, 4, 2, 1))

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        logvar = logvar.clamp(-8, 8)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        logits = self.dec(F.relu(self.dec_fc(z)).view(-1, 32, 4, 4))
        return logits, mu, logvar


def losses(logits, x, mu, logvar):
    rec = F.binary_cross_entropy_with_logits(logits, x)
    kl = (-0.5 * (1 + logvar - mu ** 2 - logvar.exp()).sum(dim=1)).mean()
    return rec, kl


def train(cfg):
    g = torch.Generator().manual_seed(cfg["seed"])
    torch.manual_seed(cfg["seed"])
    data = make_dataset(2048, cfg["img"], g)
    pbar = data.mean(0, keepdim=True).clamp(1e-4, 1 - 1e-4).expand_as(data)
    baseline = F.binary_cross_entropy(pbar, data).item()
    model = ConvVAE(cfg["latent"])
    opt = torch.optim.AdamW(model.parameters(), lr=cfg["lr"])
    for step in range(1, cfg["steps"] + 1):
        x = data[torch.randint(0, len(data), (cfg["batch_size"],), generator=g)]
        logits, mu, logvar = model(x)
        rec, kl = losses(logits, x, mu, logvar)
        loss = rec + cfg["kl_weight"] * kl
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step == 1 or step % cfg["log_every"] == 0:
            print(f"step {step:4d} loss {loss.item():.4f} rec {rec.item():.4f} (mean-image bce {baseline:.4f}) kl {kl.item():.4f}")


if __name__ == "__main__":
    train(CONFIG)
