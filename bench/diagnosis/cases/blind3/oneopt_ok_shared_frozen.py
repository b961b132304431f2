# source: https://github.com/clovaai/stargan-v2/issues/16
# expect: healthy
# category: gan
# bug: one AdamW over gan.parameters() on purpose, but D is frozen (requires_grad False) for the G step and fakes are detached for the D step, grads set to None, so each step moves one player only
import math
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

CFG = {"latent": 4, "hidden": 64, "lr": 1e-3, "wd": 1e-4, "batch": 128, "epochs": 12, "seed": 3}


def make_rings(n, seed):
    g = torch.Generator().manual_seed(seed)
    k = torch.randint(0, 8, (n,), generator=g).float()
    ang = k * (2 * math.pi / 8)
    pts = torch.stack([2.0 * torch.cos(ang), 2.0 * torch.sin(ang)], 1)
    return pts + 0.1 * torch.randn(n, 2, generator=g)


class GAN(nn.Module):
    def __init__(self, latent, hidden):
        super().__init__()
        self.latent = latent
        self.generator = nn.Sequential(
            nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 2))
        self.discriminator = nn.Sequential(
            nn.Linear(2, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, 1))

    def sample(self, n):
        return self.generator(torch.randn(n, self.latent))

    def critic(self, x):
        return self.discriminator(x).squeeze(-1)


def d_step(gan, opt, real):
    fake = gan.sample(real.size(0)).detach()
    lr_, lf = gan.critic(real), gan.critic(fake)
    loss = F.binary_cross_entropy_with_logits(lr_, torch.ones_like(lr_)) + \
        F.binary_cross_entropy_with_logits(lf, torch.zeros_like(lf))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss.item()


def set_requires_grad(module, flag):
    for p in module.parameters():
        p.requires_grad_(flag)


def g_step(gan, opt, n):
    set_requires_grad(gan.discriminator, False)
    logits = gan.critic(gan.sample(n))
    loss = F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    set_requires_grad(gan.discriminator, True)
    return loss.item()


@torch.no_grad()
def mode_coverage(gan, n=2000):
    pts = gan.sample(n)
    ang = torch.atan2(pts[:, 1], pts[:, 0]) % (2 * math.pi)
    k = torch.round(ang / (2 * math.pi / 8)) % 8
    near = (pts.norm(dim=1) - 2.0).abs() < 0.3
    return len(torch.unique(k[near])), near.float().mean().item()


def train_one_epoch(gan, opt, loader):
    dl, gl = 0.0, 0.0
    for (real,) in loader:
        dl += d_step(gan, opt, real)
        gl += g_step(gan, opt, real.size(0))
    return dl / len(loader), gl / len(loader)


def main(cfg):
    torch.manual_seed(cfg["seed"])
    data = make_rings(4096, cfg["seed"])
    loader = DataLoader(TensorDataset(data), batch_size=cfg["batch"], shuffle=True)
    gan = GAN(cfg["latent"], cfg["hidden"])
    opt = torch.optim.AdamW(gan.parameters(), lr=cfg["lr"], betas=(0.5, 0.999), weight_decay=cfg["wd"])
    for epoch in range(cfg["epochs"]):
        dl, gl = train_one_epoch(gan, opt, loader)
        modes, on_ring = mode_coverage(gan)
        print(f"epoch {epoch:2d} | d_loss {dl:.4f} | g_loss {gl:.4f} | modes {modes}/8 | on ring {on_ring:.2f}")


if __name__ == "__main__":
    main(CFG)
