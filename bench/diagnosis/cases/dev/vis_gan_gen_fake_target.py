# source: https://github.com/ptran1203/pytorch-animeGAN/issues/17
# expect: gan-target-flipped, loss-sign-flipped
# category: gan
# bug: the generator's adversarial loss uses the "fake" label (zeros) as its target, so the generator is trained to make the discriminator call its samples fake instead of fooling it
"""DCGAN-style conv GAN on 1x16x16 images of a blob at one of four corners."""
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)

yy, xx = torch.meshgrid(torch.arange(16.0), torch.arange(16.0), indexing="ij")
centres = [(4, 4), (4, 11), (11, 4), (11, 11)]
modes = torch.stack([torch.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 6.0) * 2 - 1 for cy, cx in centres])


def sample_real(n):
    idx = torch.randint(0, 4, (n,))
    return (modes[idx] + 0.05 * torch.randn(n, 16, 16)).unsqueeze(1)


def quality(imgs):
    d = ((imgs[:, 0, None] - modes[None]) ** 2).mean((-1, -2))
    return d.min(1).values.mean().item()


class Generator(nn.Module):
    def __init__(self, nz=16):
        super().__init__()
        self.fc = nn.Linear(nz, 32 * 4 * 4)
        self.up1 = nn.ConvTranspose2d(32, 16, 4, stride=2, padding=1)   # 8x8
        self.bn1 = nn.BatchNorm2d(16)
        self.up2 = nn.ConvTranspose2d(16, 1, 4, stride=2, padding=1)    # 16x16

    def forward(self, z):
        h = F.relu(self.fc(z)).view(-1, 32, 4, 4)
        h = F.relu(self.bn1(self.up1(h)))
        return torch.tanh(self.up2(h))


class Discriminator(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 16, 4, stride=2, padding=1)
        self.c2 = nn.Conv2d(16, 32, 4, stride=2, padding=1)
        self.fc = nn.Linear(32 * 4 * 4, 1)

    def forward(self, x):
        h = F.leaky_relu(self.c1(x), 0.2)
        h = F.leaky_relu(self.c2(h), 0.2)
        return self.fc(h.flatten(1))


netG, netD = Generator(), Discriminator()
optG = torch.optim.Adam(netG.parameters(), lr=2e-3, betas=(0.5, 0.999))
optD = torch.optim.Adam(netD.parameters(), lr=2e-3, betas=(0.5, 0.999))
criterion = nn.BCEWithLogitsLoss()
REAL, FAKE = 1.0, 0.0

for step in range(600):
    real = sample_real(64)
    noise = torch.randn(64, 16)
    fake = netG(noise)

    optD.zero_grad()
    out_real = netD(real)
    out_fake = netD(fake.detach())
    lossD = criterion(out_real, torch.full_like(out_real, REAL)) + \
        criterion(out_fake, torch.full_like(out_fake, FAKE))
    lossD.backward()
    optD.step()

    optG.zero_grad()
    out = netD(fake)
    lossG = criterion(out, torch.full_like(out, FAKE))      # BUG: target should be REAL
    lossG.backward()
    optG.step()

    if step % 100 == 0 or step == 599:
        netG.eval()
        with torch.no_grad():
            q = quality(netG(torch.randn(256, 16)))
        netG.train()
        print(f"[{step:3d}] Loss_D {lossD.item():.4f} Loss_G {lossG.item():.4f} "
              f"fake-to-mode mse {q:.4f} (real {quality(sample_real(256)):.4f})")
