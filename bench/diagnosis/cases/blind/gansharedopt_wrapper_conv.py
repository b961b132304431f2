# source: https://github.com/eriklindernoren/PyTorch-GAN/issues/108
# expect: game-shared-optimizer
# category: gan
# bug: generator and discriminator live in one GAN nn.Module and a single Adam(model.parameters()) steps both after each player's loss, so the generator step also trains D to call fakes real
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(7)


def real_batch(n, size=8):
    # bright vertical stripes at random columns on a dark background, in [-1, 1]
    img = -torch.ones(n, 1, size, size)
    cols = torch.randint(1, size - 1, (n,))
    img[torch.arange(n), 0, :, cols] = 1.0
    return img


class GAN(nn.Module):
    def __init__(self, nz=16):
        super().__init__()
        self.nz = nz
        self.generator = nn.Sequential(
            nn.Linear(nz, 32 * 2 * 2), nn.Unflatten(1, (32, 2, 2)), nn.ReLU(),
            nn.ConvTranspose2d(32, 16, 4, 2, 1), nn.BatchNorm2d(16), nn.ReLU(),
            nn.ConvTranspose2d(16, 1, 4, 2, 1), nn.Tanh(),
        )
        self.discriminator = nn.Sequential(
            nn.Conv2d(1, 16, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(16, 32, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Flatten(), nn.Linear(32 * 2 * 2, 1),
        )

    def sample(self, n):
        return self.generator(torch.randn(n, self.nz))


model = GAN()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.5, 0.999))


def stripe_score(x):
    # fraction of columns that look like a clean stripe (all pixels > 0) per image, averaged
    return (x > 0).all(dim=2).float().sum(dim=-1).clamp(max=1).mean().item()


for step in range(300):
    real = real_batch(64)
    fake = model.sample(64)

    d_real = model.discriminator(real)
    d_fake = model.discriminator(fake.detach())
    loss_d = F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real)) + \
        F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake))
    optimizer.zero_grad()
    loss_d.backward()
    optimizer.step()

    d_gen = model.discriminator(fake)
    loss_g = F.binary_cross_entropy_with_logits(d_gen, torch.ones_like(d_gen))
    optimizer.zero_grad()
    loss_g.backward()
    optimizer.step()

    if step % 50 == 0 or step == 299:
        with torch.no_grad():
            model.eval()
            s = model.sample(256)
            model.train()
        print(f"step {step:3d} loss_d {loss_d.item():.3f} loss_g {loss_g.item():.3f} "
              f"fake mean {s.mean().item():+.3f} (real {real.mean().item():+.3f}) stripe {stripe_score(s):.2f}")
