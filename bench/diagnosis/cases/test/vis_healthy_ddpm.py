# source: https://github.com/EDAPINENUT/GNTPP/issues/5
# expect: healthy
# category: diffusion
# bug: none: a tiny DDPM trained to predict the added noise from (x_t, t), sampled with the matching ancestral sampler
"""Tiny DDPM (T=100, MLP denoiser with a sinusoidal time embedding) on 1x16x16 blob images, done right."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)

T = 100
betas = torch.linspace(1e-4, 0.1, T)
alphas = 1 - betas
abar = torch.cumprod(alphas, 0)

yy, xx = torch.meshgrid(torch.arange(16.0), torch.arange(16.0), indexing="ij")
MODES = torch.stack([
    torch.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 8.0) * 2 - 1
    for cy, cx in [(4, 4), (4, 11), (11, 4), (11, 11)]
]).view(4, 256)


def batch(n):
    return MODES[torch.randint(0, 4, (n,))] + 0.05 * torch.randn(n, 256)


def nearest_mode_mse(x):
    return ((x[:, None] - MODES[None]) ** 2).mean(-1).min(1).values.mean().item()


def time_embedding(t, dim=32):
    half = dim // 2
    freqs = torch.exp(-math.log(1000.0) * torch.arange(half) / half)
    ang = t.float()[:, None] * freqs[None]
    return torch.cat([ang.sin(), ang.cos()], dim=1)


class Denoiser(nn.Module):
    def __init__(self):
        super().__init__()
        self.inp = nn.Linear(256, 256)
        self.temb = nn.Sequential(nn.Linear(32, 256), nn.SiLU(), nn.Linear(256, 256))
        self.mid = nn.Sequential(nn.SiLU(), nn.Linear(256, 256), nn.SiLU(), nn.Linear(256, 256))

    def forward(self, x, t):
        return x + self.mid(self.inp(x) + self.temb(time_embedding(t)))   # skip: at large t the noise is close to x_t


def q_sample(x0, t, noise):
    a = abar[t][:, None]
    return a.sqrt() * x0 + (1 - a).sqrt() * noise


abar_prev = torch.cat([torch.ones(1), abar[:-1]])
post_var = betas * (1 - abar_prev) / (1 - abar)
coef_x0 = abar_prev.sqrt() * betas / (1 - abar)
coef_xt = alphas.sqrt() * (1 - abar_prev) / (1 - abar)


@torch.no_grad()
def sample(model, n):
    """ancestral sampling; the network's output is read as the noise in x_t"""
    x = torch.randn(n, 256)
    for i in reversed(range(T)):
        t = torch.full((n,), i)
        eps = model(x, t)
        x0_hat = ((x - (1 - abar[i]).sqrt() * eps) / abar[i].sqrt()).clamp(-1, 1)
        x = coef_x0[i] * x0_hat + coef_xt[i] * x
        if i > 0:
            x = x + post_var[i].sqrt() * torch.randn_like(x)
    return x


model = Denoiser()
opt = torch.optim.AdamW(model.parameters(), lr=2e-3)

for step in range(1200):
    x0 = batch(128)
    t = torch.randint(0, T, (128,))
    noise = torch.randn_like(x0)
    x_t = q_sample(x0, t, noise)
    pred = model(x_t, t)
    loss = F.mse_loss(pred, noise)
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 150 == 0 or step == 1199:
        print(f"step {step:4d} loss {loss.item():.4f}")

print(f"samples: nearest-mode mse {nearest_mode_mse(sample(model, 256)):.3f} "
      f"(training images: {nearest_mode_mse(batch(256)):.3f}, pure noise: {nearest_mode_mse(torch.randn(256, 256)):.3f})")
