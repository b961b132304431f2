# source: https://github.com/jankrepl/deepdow/pull/106
# expect: graph-break
# category: vae
# bug: the latent code is drawn with Normal(mu, std).sample() instead of rsample(); sample() runs without gradient, so the reconstruction loss never reaches the encoder, which only learns to match the prior, and the decoder can only output the average image
"""Convolutional VAE on 1x16x16 images of a bright square at a random position."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.distributions import Normal, kl_divergence
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)


def squares(n):
    x = torch.zeros(n, 1, 16, 16)
    pos = torch.randint(0, 11, (n, 2))
    for i in range(n):
        r, c = pos[i].tolist()
        x[i, 0, r:r + 6, c:c + 6] = 1.0
    return x


class ConvVAE(nn.Module):
    def __init__(self, zdim=4):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv2d(1, 16, 4, 2, 1), nn.ReLU(),      # 8x8
            nn.Conv2d(16, 32, 4, 2, 1), nn.ReLU(),     # 4x4
            nn.Flatten(), nn.Linear(32 * 16, 2 * zdim),
        )
        self.decoder_fc = nn.Linear(zdim, 32 * 16)
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(32, 16, 4, 2, 1), nn.ReLU(),
            nn.ConvTranspose2d(16, 1, 4, 2, 1),
        )

    def forward(self, x):
        mu, log_std = self.encoder(x).chunk(2, dim=1)
        q = Normal(mu, log_std.exp())
        z = q.sample()                        # BUG: rsample() keeps the path to mu and log_std
        logits = self.decoder(self.decoder_fc(z).view(-1, 32, 4, 4))
        return logits, q


loader = DataLoader(TensorDataset(squares(1536)), batch_size=64, shuffle=True)
vae = ConvVAE()
opt = torch.optim.Adam(vae.parameters(), lr=2e-3)
prior = Normal(0.0, 1.0)

for epoch in range(8):
    rec_sum, kl_sum, n = 0.0, 0.0, 0
    for (x,) in loader:
        logits, q = vae(x)
        rec = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / len(x)
        kl = kl_divergence(q, prior).sum() / len(x)
        loss = rec + kl
        opt.zero_grad()
        loss.backward()
        opt.step()
        rec_sum += rec.item() * len(x)
        kl_sum += kl.item() * len(x)
        n += len(x)
    print(f"epoch {epoch}  recon {rec_sum / n:.2f}  kl {kl_sum / n:.3f}  total {(rec_sum + kl_sum) / n:.2f}")
