# source: https://github.com/ginobilinie/asdnet/issues/2 (losses of the discriminator step backpropagated and stepped into both G and D by the same optimizer step); Lightning-style single-optimizer GAN module
# expect: game-shared-optimizer
# category: gan
# bug: RingGAN.configure_optimizers() returns ONE Adam over G and D and training_step() returns d_loss + g_loss for a single backward/step; D is pushed toward D(fake)=0 and D(fake)=1 at once and G gets gradients from both its own and D's objective, so the game turns cooperative (D(fake) pinned at 0.5) and the generator never lands on the ring
import math
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(1)

MODES = torch.tensor([[math.cos(2 * math.pi * k / 8), math.sin(2 * math.pi * k / 8)] for k in range(8)]) * 2.0


def make_ring_dataset(n=40000):
    idx = torch.randint(0, 8, (n,))
    return TensorDataset(MODES[idx] + 0.05 * torch.randn(n, 2))


def mlp(i, o, h=64):
    return nn.Sequential(nn.Linear(i, h), nn.LeakyReLU(0.2), nn.Linear(h, h), nn.LeakyReLU(0.2), nn.Linear(h, o))


class RingGAN(nn.Module):
    def __init__(self, z_dim=8, lr=1e-3):
        super().__init__()
        self.z_dim, self.lr = z_dim, lr
        self.generator = mlp(z_dim, 2)
        self.discriminator = mlp(2, 1)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.lr, betas=(0.5, 0.999))

    def training_step(self, real):
        z = torch.randn(real.shape[0], self.z_dim)
        fake = self.generator(z)
        logit_real = self.discriminator(real)
        logit_fake = self.discriminator(fake)
        d_loss = F.binary_cross_entropy_with_logits(logit_real, torch.ones_like(logit_real)) + \
            F.binary_cross_entropy_with_logits(logit_fake, torch.zeros_like(logit_fake))
        g_loss = F.binary_cross_entropy_with_logits(logit_fake, torch.ones_like(logit_fake))
        return {"loss": d_loss + g_loss, "d_loss": d_loss.detach(), "g_loss": g_loss.detach()}

    @torch.no_grad()
    def mode_stats(self, n=2000):
        x = self.generator(torch.randn(n, self.z_dim))
        d = torch.cdist(x, MODES)
        near = d.min(1).values < 0.25
        return near.float().mean().item(), torch.unique(d.argmin(1)[near]).numel()


model = RingGAN()
optimizer = model.configure_optimizers()
loader = DataLoader(make_ring_dataset(), batch_size=256, shuffle=True, drop_last=True)
step = 0
for epoch in range(6):
    for (real,) in loader:
        out = model.training_step(real)
        optimizer.zero_grad()
        out["loss"].backward()
        optimizer.step()
        step += 1
    quality, covered = model.mode_stats()
    print(f"epoch {epoch}  step {step:5d}  d_loss {out['d_loss'].item():.4f}  g_loss {out['g_loss'].item():.4f}  "
          f"samples near a mode {quality:.2f}  modes covered {covered}/8")
