# source: https://github.com/AntixK/PyTorch-VAE/issues/12 (latent sample must stay differentiable w.r.t. mu/logvar); no_grad variant as in PyTorch-forum posts where a sampling helper shared with generation code is wrapped in torch.no_grad()
# expect: graph-break
# category: vae
# bug: the reparameterize() helper is decorated with @torch.no_grad() because it is also used to generate samples; during training z = mu + eps*std is therefore built outside autograd, the encoder only receives the KL gradient, collapses to the prior, and the decoder learns just the average blob image
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(4)

IMG = 16


def make_blobs(n):
    """Images of one bright Gaussian blob at a random position with random size."""
    yy, xx = torch.meshgrid(torch.arange(IMG).float(), torch.arange(IMG).float(), indexing="ij")
    cx = torch.rand(n, 1, 1) * 10 + 3
    cy = torch.rand(n, 1, 1) * 10 + 3
    s = torch.rand(n, 1, 1) * 1.5 + 1.0
    img = torch.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * s ** 2))
    return img.unsqueeze(1)   # [n, 1, 16, 16] in [0, 1]


@torch.no_grad()
def reparameterize(mu, logvar):
    std = torch.exp(0.5 * logvar)
    return mu + std * torch.randn_like(std)


class ConvVAE(nn.Module):
    def __init__(self, z_dim=8):
        super().__init__()
        self.enc = nn.Sequential(nn.Conv2d(1, 16, 4, 2, 1), nn.ReLU(),     # 8x8
                                 nn.Conv2d(16, 32, 4, 2, 1), nn.ReLU(),    # 4x4
                                 nn.Flatten())
        self.fc_mu = nn.Linear(32 * 16, z_dim)
        self.fc_lv = nn.Linear(32 * 16, z_dim)
        self.fc_dec = nn.Linear(z_dim, 32 * 16)
        self.dec = nn.Sequential(nn.ReLU(),
                                 nn.ConvTranspose2d(32, 16, 4, 2, 1), nn.ReLU(),
                                 nn.ConvTranspose2d(16, 1, 4, 2, 1))

    def forward(self, x):
        h = self.enc(x)
        mu, logvar = self.fc_mu(h), self.fc_lv(h)
        z = reparameterize(mu, logvar)
        logits = self.dec(self.fc_dec(z).view(-1, 32, 4, 4))
        return logits, mu, logvar

    def generate(self, n, z_dim=8):
        z = reparameterize(torch.zeros(n, z_dim), torch.zeros(n, z_dim))
        return torch.sigmoid(self.dec(self.fc_dec(z).view(-1, 32, 4, 4)))


train = make_blobs(4000)
model = ConvVAE()
opt = torch.optim.Adam(model.parameters(), lr=2e-3)
sched = torch.optim.lr_scheduler.StepLR(opt, step_size=4, gamma=0.5)
B = 100
for epoch in range(1, 9):
    perm = torch.randperm(len(train))
    tot_bce = tot_kl = 0.0
    for k in range(0, len(train), B):
        x = train[perm[k:k + B]]
        logits, mu, logvar = model(x)
        bce = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / len(x)
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / len(x)
        loss = bce + kl
        opt.zero_grad()
        loss.backward()
        opt.step()
        tot_bce += bce.item(); tot_kl += kl.item()
    sched.step()
    nb = len(train) // B
    with torch.no_grad():
        logits, _, _ = model(train[:500])
        mse = F.mse_loss(torch.sigmoid(logits), train[:500]).item()
    print(f"epoch {epoch:2d}  bce {tot_bce / nb:8.3f}  kl {tot_kl / nb:6.3f}  recon mse {mse:.4f}")
