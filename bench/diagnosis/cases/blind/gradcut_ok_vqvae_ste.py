# source: https://github.com/eriklindernoren/PyTorch-GAN/issues/142
# expect: healthy
# category: vae
# bug: a small VQ-VAE whose quantised code is passed to the decoder with the straight-through estimator z + (zq - z).detach(); the detaches in the codebook/commitment terms are the intended stop-gradients
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(4)

N, D = 2048, 24
centers = torch.randn(6, 3)
z_true = centers[torch.randint(0, 6, (N,))] + 0.3 * torch.randn(N, 3)
proj = torch.randn(3, D)
data = torch.tanh(z_true @ proj)


class VQVAE(nn.Module):
    def __init__(self, d_in, d_code=3, n_codes=32, beta=0.25):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(d_in, 64), nn.ReLU(), nn.Linear(64, d_code))
        self.decoder = nn.Sequential(nn.Linear(d_code, 64), nn.ReLU(), nn.Linear(64, d_in))
        self.codebook = nn.Embedding(n_codes, d_code)
        self.codebook.weight.data.uniform_(-1.0 / n_codes, 1.0 / n_codes)
        self.beta = beta

    def quantize(self, z):
        dist = torch.cdist(z, self.codebook.weight)
        idx = dist.argmin(dim=1)
        zq = self.codebook(idx)
        codebook_loss = F.mse_loss(zq, z.detach())
        commit_loss = F.mse_loss(z, zq.detach())
        zq_st = z + (zq - z).detach()
        return zq_st, codebook_loss + self.beta * commit_loss, idx

    def forward(self, x):
        z = self.encoder(x)
        zq, vq_loss, idx = self.quantize(z)
        return self.decoder(zq), vq_loss, idx


model = VQVAE(D)
opt = torch.optim.Adam(model.parameters(), lr=2e-3)
for step in range(400):
    x = data[torch.randint(0, N, (128,))]
    recon, vq_loss, idx = model(x)
    rec_loss = F.mse_loss(recon, x)
    loss = rec_loss + vq_loss
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 80 == 0 or step == 399:
        print(f"step {step:3d} loss {loss.item():.4f} recon {rec_loss.item():.4f} codes used {idx.unique().numel()}")
