# source: https://github.com/mlpack/mlpack/pull/1204
# expect: game-shared-optimizer
# category: gan
# bug: one SGD with two param groups (G lr, D lr) and fakes not detached in the D loss: D's loss also steps G, G's loss also steps D
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(7)


def bars(n):
    imgs = torch.zeros(n, 1, 8, 8)
    rows = torch.randint(1, 7, (n,))
    imgs[torch.arange(n), 0, rows, :] = 1.0
    return imgs * 2 - 1 + 0.05 * torch.randn(n, 1, 8, 8)


class Generator(nn.Module):
    def __init__(self, nz=16):
        super().__init__()
        self.fc = nn.Linear(nz, 32 * 2 * 2)
        self.up = nn.Sequential(
            nn.ConvTranspose2d(32, 16, 4, 2, 1), nn.BatchNorm2d(16), nn.ReLU(),
            nn.ConvTranspose2d(16, 1, 4, 2, 1), nn.Tanh())

    def forward(self, z):
        return self.up(self.fc(z).view(-1, 32, 2, 2))


class Discriminator(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 16, 3, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(16, 32, 3, 2, 1), nn.LeakyReLU(0.2))
        self.out = nn.Linear(32 * 2 * 2, 1)

    def forward(self, x):
        return self.out(self.body(x).flatten(1)).squeeze(1)


def bar_score(x):
    # how much one row stands out from the rest, real bars give about 1.0
    rows = x.mean(dim=(1, 3))
    return (rows.max(1).values - rows.median(1).values).mean() / 2


netG, netD = Generator(), Discriminator()
optimizer = torch.optim.SGD([
    {"params": netG.parameters(), "lr": 0.05},
    {"params": netD.parameters(), "lr": 0.02},
], momentum=0.9)

for it in range(300):
    real = bars(64)
    z = torch.randn(64, 16)
    fake = netG(z)

    optimizer.zero_grad()
    out_r, out_f = netD(real), netD(fake)
    lossD = F.binary_cross_entropy_with_logits(out_r, torch.ones(64)) + \
        F.binary_cross_entropy_with_logits(out_f, torch.zeros(64))
    lossD.backward()
    optimizer.step()

    optimizer.zero_grad()
    fake = netG(torch.randn(64, 16))
    lossG = F.binary_cross_entropy_with_logits(netD(fake), torch.ones(64))
    lossG.backward()
    optimizer.step()

    if it % 30 == 0 or it == 299:
        with torch.no_grad():
            netG.eval()
            score = bar_score(netG(torch.randn(500, 16))).item()
            netG.train()
        print(f"iter {it:3d}  lossD {lossD.item():.4f}  lossG {lossG.item():.4f}  bar score {score:.3f} (real ~{bar_score(bars(500)).item():.3f})")
