# source: https://github.com/cmzuo11/scMVAE/issues/1
# expect: logvar-as-variance, nonfinite-forward
# category: vae
# bug: the encoder's log-variance output is used as if it were the variance (std = sqrt(logvar)); log-variances are negative about half the time, so the reparameterized sample and the loss are NaN from the first batch
"""MLP VAE on 16x16 "digit" strokes, class-based training script."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)


def strokes(n):
    x = torch.zeros(n, 16, 16)
    kind = torch.randint(0, 3, (n,))
    off = torch.randint(2, 14, (n,))
    for i in range(n):
        o = off[i].item()
        if kind[i] == 0:
            x[i, o, 2:14] = 1
        elif kind[i] == 1:
            x[i, 2:14, o] = 1
        else:
            idx = torch.arange(2, 14)
            x[i, idx, (idx + o) % 16] = 1
    return x.view(n, -1)


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(256, 128), nn.Tanh())
        self.out = nn.Linear(128, 2 * 6)

    def forward(self, x):
        return self.out(self.body(x)).chunk(2, dim=-1)       # mu, logvar


class Decoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(6, 128), nn.Tanh(), nn.Linear(128, 256))

    def forward(self, z):
        return self.net(z)


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder, self.decoder = Encoder(), Decoder()

    def reparameterize(self, mu, logvar):
        std = torch.sqrt(logvar)             # BUG: logvar is log(sigma^2); std = exp(0.5 * logvar)
        return mu + std * torch.randn_like(std)

    def forward(self, x):
        mu, logvar = self.encoder(x)
        z = self.reparameterize(mu, logvar)
        return self.decoder(z), mu, logvar


class Trainer:
    def __init__(self):
        self.model = VAE()
        self.opt = torch.optim.RMSprop(self.model.parameters(), lr=1e-3)
        self.data = strokes(1024)

    def step(self, x):
        logits, mu, logvar = self.model(x)
        rec = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / len(x)
        kl = -0.5 * torch.sum(1 + logvar - mu ** 2 - logvar.exp()) / len(x)
        loss = rec + kl
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return loss.item()

    def fit(self, epochs=6, bs=64):
        for ep in range(epochs):
            perm = torch.randperm(len(self.data))
            losses = [self.step(self.data[perm[i:i + bs]]) for i in range(0, len(self.data), bs)]
            mean = sum(losses) / len(losses)
            print(f"epoch {ep} loss {mean:.3f}" + ("  (not finite)" if not math.isfinite(mean) else ""))


if __name__ == "__main__":
    Trainer().fit()
