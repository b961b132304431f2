# source: https://github.com/zalandoresearch/pytorch-vq-vae/issues/6 ("How does the reconstruction loss update the encoder?" - the quantized = inputs + (quantized - inputs).detach() straight-through copy) and https://github.com/Biohub/esm/issues/38
# expect: graph-break
# category: vae
# bug: VectorQuantizer.forward returns the looked-up codebook vectors (codebook[argmin]) directly; argmin has no gradient, so the reconstruction loss never reaches the encoder (it only feels the commitment term) and the codes stay assigned by a random encoder, leaving reconstructions poor
import math
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(10)

L = 128


def make_clips(n):
    """Audio-like clips: two-tone mixture with a decaying envelope."""
    t = torch.arange(L).float() / L
    f1 = torch.randint(2, 8, (n, 1)).float()
    f2 = torch.randint(8, 16, (n, 1)).float()
    a2 = torch.rand(n, 1) * 0.5
    decay = torch.rand(n, 1) * 3
    x = (torch.sin(2 * math.pi * f1 * t) + a2 * torch.sin(2 * math.pi * f2 * t + 1.0)) * torch.exp(-decay * t)
    return x.unsqueeze(1)    # [n, 1, L]


class VectorQuantizer(nn.Module):
    def __init__(self, n_codes=64, dim=16, beta=0.25):
        super().__init__()
        self.codebook = nn.Embedding(n_codes, dim)
        self.codebook.weight.data.uniform_(-1 / n_codes, 1 / n_codes)
        self.beta = beta

    def forward(self, z_e):                          # z_e: [B, D, T]
        z = z_e.permute(0, 2, 1)                     # [B, T, D]
        flat = z.reshape(-1, z.shape[-1])
        d = (flat.pow(2).sum(1, keepdim=True) - 2 * flat @ self.codebook.weight.T
             + self.codebook.weight.pow(2).sum(1))
        idx = d.argmin(1)
        z_q = self.codebook(idx).view_as(z)
        codebook_loss = F.mse_loss(z_q, z.detach())
        commit_loss = F.mse_loss(z, z_q.detach())
        vq_loss = codebook_loss + self.beta * commit_loss
        perplexity = torch.exp(-(F.one_hot(idx, self.codebook.num_embeddings).float().mean(0)
                                 * torch.log(F.one_hot(idx, self.codebook.num_embeddings).float().mean(0) + 1e-10)).sum())
        return z_q.permute(0, 2, 1), vq_loss, perplexity


class VQVAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Conv1d(1, 32, 4, 2, 1), nn.ReLU(),
                                     nn.Conv1d(32, 32, 4, 2, 1), nn.ReLU(),
                                     nn.Conv1d(32, 16, 3, 1, 1))           # [B,16,L/4]
        self.vq = VectorQuantizer()
        self.decoder = nn.Sequential(nn.Conv1d(16, 32, 3, 1, 1), nn.ReLU(),
                                     nn.ConvTranspose1d(32, 32, 4, 2, 1), nn.ReLU(),
                                     nn.ConvTranspose1d(32, 1, 4, 2, 1))

    def forward(self, x):
        z_q, vq_loss, ppl = self.vq(self.encoder(x))
        return self.decoder(z_q), vq_loss, ppl


clips = make_clips(4000)
var = clips.var().item()
model = VQVAE()
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
for epoch in range(1, 7):
    perm = torch.randperm(len(clips))
    for i in range(0, len(clips), 64):
        x = clips[perm[i:i + 64]]
        x_hat, vq_loss, ppl = model(x)
        rec = F.mse_loss(x_hat, x) / var
        loss = rec + vq_loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        x_hat, _, ppl = model(clips[:512])
        nmse = (F.mse_loss(x_hat, clips[:512]) / var).item()
    print(f"epoch {epoch}  loss {loss.item():.4f}  vq {vq_loss.item():.4f}  "
          f"normalized recon mse {nmse:.4f}  code perplexity {ppl.item():.1f}")
