# source: https://github.com/zalandoresearch/pytorch-vq-vae/issues/6
# expect: healthy
# category: vae
# bug: VQ-VAE whose quantized latent uses .detach() in the straight-through estimator z + (q - z).detach() and in the codebook/commitment terms; the encoder still gets the reconstruction gradient
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(9)

n = 4000
factors = torch.randn(n, 3)
table = torch.tanh(factors @ torch.randn(3, 12)) + 0.05 * torch.randn(n, 12)
table = (table - table.mean(0)) / table.std(0)


class VQ(nn.Module):
    def __init__(self, codes=64, dim=6, beta=0.25):
        super().__init__()
        self.codebook = nn.Embedding(codes, dim)
        self.codebook.weight.data.normal_()
        self.beta = beta

    def forward(self, z):
        d = torch.cdist(z, self.codebook.weight)
        idx = d.argmin(1)
        q = self.codebook(idx)
        vq_loss = F.mse_loss(q, z.detach()) + self.beta * F.mse_loss(z, q.detach())
        q_st = z + (q - z).detach()
        return q_st, vq_loss, idx


enc = nn.Sequential(nn.Linear(12, 64), nn.ReLU(), nn.Linear(64, 6))
dec = nn.Sequential(nn.Linear(6, 64), nn.ReLU(), nn.Linear(64, 12))
vq = VQ()
opt = torch.optim.Adam([*enc.parameters(), *dec.parameters(), *vq.parameters()], lr=2e-3)

for step in range(400):
    x = table[torch.randint(0, n, (256,))]
    q, vq_loss, idx = vq(enc(x))
    rec = F.mse_loss(dec(q), x)
    loss = rec + vq_loss
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 50 == 0 or step == 399:
        used = idx.unique().numel()
        print(f"step {step:3d}  loss {loss.item():.4f}  rec {rec.item():.4f}  vq {vq_loss.item():.4f}  codes used {used}")
