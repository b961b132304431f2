# source: https://runebook.dev/en/docs/pytorch/distributions/torch.distributions.normal.Normal.rsample
# expect: graph-break
# category: vae
# bug: the latent is drawn with Normal(mu, std).sample() instead of rsample(), so the encoder gets gradient only from the KL and z carries nothing about x
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.distributions import Normal

torch.manual_seed(0)

# 8x8 images with one vertical and one horizontal line, flattened to 64
N = 3000
rows = torch.randint(0, 8, (N,))
cols = torch.randint(0, 8, (N,))
images = torch.zeros(N, 8, 8)
images[torch.arange(N), rows, :] = 1.0
images[torch.arange(N), :, cols] = 1.0
data = images.view(N, 64)


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Linear(64, 128)
        self.mu = nn.Linear(128, 4)
        self.logvar = nn.Linear(128, 4)
        self.dec1 = nn.Linear(4, 128)
        self.dec2 = nn.Linear(128, 64)

    def forward(self, x):
        h = F.relu(self.enc(x))
        mu, logvar = self.mu(h), self.logvar(h)
        q = Normal(mu, torch.exp(0.5 * logvar))
        z = q.sample()
        out = self.dec2(F.relu(self.dec1(z)))
        return out, mu, logvar


model = VAE()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

for step in range(400):
    idx = torch.randint(0, N, (128,))
    x = data[idx]
    logits, mu, logvar = model(x)
    recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / x.size(0)
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / x.size(0)
    loss = recon + kl
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if step % 50 == 0:
        print("step", step, "loss", round(loss.item(), 3), "recon", round(recon.item(), 3), "kl", round(kl.item(), 3))
print("final loss", round(loss.item(), 3), "recon", round(recon.item(), 3), "kl", round(kl.item(), 3))
