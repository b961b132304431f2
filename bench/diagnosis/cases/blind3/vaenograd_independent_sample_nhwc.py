# source: https://github.com/nicola-decao/s-vae-pytorch/issues/9
# expect: graph-break
# category: vae
# bug: posterior built as Independent(Normal(mu, sigma), 1) and the latent drawn with .sample() rather than .rsample(); channels-last images, the conv encoder never learns from the reconstruction
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.distributions import Independent, Normal, kl_divergence

torch.manual_seed(12)
K, H, W, ZD = 10, 10, 10, 4

# channels-last RGB images: a colored rectangle at one of K places, random pixel dropout
prototypes = torch.zeros(K, H, W, 3)
for k in range(K):
    r, c = (k // 5) * 5, (k % 5) * 2
    prototypes[k, r:r + 4, c:c + 2, k % 3] = 1.0


def sample_images(n):
    k = torch.randint(0, K, (n,))
    keep = (torch.rand(n, H, W, 1) > 0.1).float()
    return prototypes[k] * keep


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                  nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.Flatten())
        self.head = nn.Linear(32 * 5 * 5, 2 * ZD)

    def forward(self, img_nhwc):
        mu, raw = self.head(self.conv(img_nhwc.permute(0, 3, 1, 2))).chunk(2, -1)
        return mu, F.softplus(raw) + 1e-4


class Decoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(ZD, 128), nn.ReLU(), nn.Linear(128, H * W * 3))

    def forward(self, z):
        return self.net(z).view(-1, H, W, 3)


enc, dec = Encoder(), Decoder()
opt = torch.optim.Adam([*enc.parameters(), *dec.parameters()], lr=2e-3)
prior = Independent(Normal(torch.zeros(ZD), torch.ones(ZD)), 1)

for step in range(300):
    imgs = sample_images(64)
    mu, sigma = enc(imgs)
    posterior = Independent(Normal(mu, sigma), 1)
    z = posterior.sample()
    recon = dec(z)
    rec_loss = F.binary_cross_entropy_with_logits(recon, imgs, reduction="sum") / imgs.size(0)
    kl = kl_divergence(posterior, prior).mean()
    loss = rec_loss + kl
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 30 == 0 or step == 299:
        print(f"step {step:3d}  loss {loss.item():8.3f}  recon {rec_loss.item():8.3f}  kl {kl.item():.3f}")
