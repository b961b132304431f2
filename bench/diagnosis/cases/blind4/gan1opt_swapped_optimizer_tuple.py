# source: https://github.com/Lornatang/ESRGAN-PyTorch/issues/39 ("lines 147 and 148 in train_gan.py are all g_optimizer, I wonder the second should be d_optimizer?" - a GAN player stepped with the other player's optimizer)
# expect: game-shared-optimizer
# category: gan
# bug: build_optimizers() returns (opt_D, opt_G) but the script unpacks it as opt_G, opt_D; the discriminator loss step therefore "steps" the generator's optimizer (whose grads were just zeroed) and the generator loss step updates the DISCRIMINATOR toward calling fakes real, so the generator is never trained and its waveforms stay noise
import math
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(12)

L, Z = 64, 16


def real_waveforms(n):
    """Short tones: 3-6 cycles per window, random phase, slight amplitude jitter."""
    t = torch.arange(L).float() / L
    freq = torch.randint(3, 7, (n, 1)).float()
    phase = torch.rand(n, 1) * 2 * math.pi
    amp = 0.7 + 0.2 * torch.rand(n, 1)
    return (amp * torch.sin(2 * math.pi * freq * t + phase)).unsqueeze(1)   # [n, 1, L]


class Generator(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(Z, 32 * 16)
        self.net = nn.Sequential(
            nn.BatchNorm1d(32), nn.ReLU(),
            nn.ConvTranspose1d(32, 32, 4, stride=2, padding=1), nn.BatchNorm1d(32), nn.ReLU(),
            nn.ConvTranspose1d(32, 16, 4, stride=2, padding=1), nn.BatchNorm1d(16), nn.ReLU(),
            nn.Conv1d(16, 1, 5, padding=2), nn.Tanh())

    def forward(self, z):
        return self.net(self.fc(z).view(-1, 32, 16))


class Discriminator(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv1d(1, 16, 5, stride=2, padding=2), nn.LeakyReLU(0.2),
            nn.Conv1d(16, 32, 5, stride=2, padding=2), nn.LeakyReLU(0.2),
            nn.Conv1d(32, 32, 5, stride=2, padding=2), nn.LeakyReLU(0.2),
            nn.Flatten(), nn.Linear(32 * 8, 1))

    def forward(self, x):
        return self.net(x).squeeze(-1)


def build_optimizers(G, D, lr_g=2e-4, lr_d=2e-4):
    opt_D = torch.optim.Adam(D.parameters(), lr=lr_d, betas=(0.5, 0.999))
    opt_G = torch.optim.Adam(G.parameters(), lr=lr_g, betas=(0.5, 0.999))
    return opt_D, opt_G


def spectrum_gap(fake, real):
    fs = torch.fft.rfft(fake.squeeze(1)).abs().mean(0)
    rs = torch.fft.rfft(real.squeeze(1)).abs().mean(0)
    return (fs / fs.sum() - rs / rs.sum()).abs().sum().item()


G, D = Generator(), Discriminator()
opt_G, opt_D = build_optimizers(G, D)
bce = nn.BCEWithLogitsLoss()
B = 64
for it in range(1, 301):
    real = real_waveforms(B)
    fake = G(torch.randn(B, Z))

    opt_D.zero_grad()
    d_loss = bce(D(real), torch.ones(B)) + bce(D(fake.detach()), torch.zeros(B))
    d_loss.backward()
    opt_D.step()

    opt_G.zero_grad()
    g_loss = bce(D(fake), torch.ones(B))
    g_loss.backward()
    opt_G.step()

    if it % 30 == 0:
        with torch.no_grad():
            G.eval()
            sample = G(torch.randn(512, Z))
            G.train()
        print(f"iter {it:4d}  d_loss {d_loss.item():.4f}  g_loss {g_loss.item():.4f}  "
              f"spectrum gap {spectrum_gap(sample, real_waveforms(512)):.3f}  fake std {sample.std().item():.3f}")
