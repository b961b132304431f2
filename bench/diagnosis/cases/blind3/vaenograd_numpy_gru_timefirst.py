# source: https://github.com/ethanluoyc/pytorch-vae/issues/5
# expect: graph-break
# category: vae
# bug: the latent of a sequence VAE is drawn with numpy (np.random.normal(mu, std)) and wrapped back with torch.from_numpy, cutting the encoder off the reconstruction
import math
import numpy as np
import torch
import torch.nn as nn

torch.manual_seed(4)
np.random.seed(4)
T, B, Z = 20, 32, 3


def batch_of_waves(b):
    t = torch.arange(T, dtype=torch.float32).unsqueeze(1)
    amp = 0.5 + torch.rand(1, b)
    phase = torch.rand(1, b) * 2 * math.pi
    return (amp * torch.sin(0.4 * t + phase)).unsqueeze(-1)  # (T, B, 1)


class SeqVAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.GRU(1, 48)
        self.to_stats = nn.Linear(48, 2 * Z)
        self.init_h = nn.Linear(Z, 48)
        self.dec = nn.GRU(1, 48)
        self.out = nn.Linear(48, 1)

    def forward(self, x):
        _, h = self.enc(x)
        mu, logvar = self.to_stats(h[0]).chunk(2, dim=-1)
        std = torch.exp(0.5 * logvar)
        z = np.random.normal(mu.detach().numpy(), std.detach().numpy())
        z = torch.from_numpy(z).float()
        h0 = torch.tanh(self.init_h(z)).unsqueeze(0)
        steps = torch.zeros(x.size(0), x.size(1), 1)
        y, _ = self.dec(steps, h0)
        return self.out(y), mu, logvar


model = SeqVAE()
opt = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9)

for it in range(300):
    x = batch_of_waves(B)
    xhat, mu, logvar = model(x)
    rec = ((xhat - x) ** 2).sum(0).mean()
    kl = (-0.5 * (1 + logvar - mu ** 2 - logvar.exp()).sum(-1)).mean()
    loss = rec + kl
    opt.zero_grad()
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), 5.0)
    opt.step()
    if it % 30 == 0 or it == 299:
        print(f"it {it:3d}  loss {loss.item():.4f}  rec {rec.item():.4f}  kl {kl.item():.4f}")
