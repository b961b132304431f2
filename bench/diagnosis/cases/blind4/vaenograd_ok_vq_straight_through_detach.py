# source: https://github.com/CompVis/taming-transformers/issues/35 ("where is the implementation of the straight-through estimator?" - the z_q = z + (z_q - z).detach() line in VectorQuantizer)
# expect: healthy
# category: vae
# bug: none - the quantizer uses .detach() twice, but deliberately: z + (z_q - z).detach() passes decoder gradients straight through to the encoder, and the codebook/commitment terms use stop-gradients as in the VQ-VAE paper; the encoder is fully trained by the reconstruction loss
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(22)

S = 16


def make_tiles(n):
    """16x16 grayscale tiles: an axis-aligned bar (random orientation/position) plus a dot."""
    img = torch.zeros(n, 1, S, S)
    for i in range(n):
        p = torch.randint(2, S - 4, (1,)).item()
        w = torch.randint(2, 4, (1,)).item()
        if torch.rand(1).item() < 0.5:
            img[i, 0, p:p + w, 2:S - 2] = 1.0
        else:
            img[i, 0, 2:S - 2, p:p + w] = 1.0
        a, b = torch.randint(0, S - 2, (2,)).tolist()
        img[i, 0, a:a + 2, b:b + 2] = 0.6
    return img


class VectorQuantizer(nn.Module):
    def __init__(self, k=32, d=8, beta=0.25):
        super().__init__()
        self.emb = nn.Embedding(k, d)
        nn.init.uniform_(self.emb.weight, -1.0 / k, 1.0 / k)
        self.beta = beta

    def forward(self, z):                          # z: [B, D, H, W] channels-first
        B, D, H, W = z.shape
        flat = z.permute(0, 2, 3, 1).reshape(-1, D)
        idx = torch.cdist(flat, self.emb.weight).argmin(1)
        zq = self.emb(idx).view(B, H, W, D).permute(0, 3, 1, 2)
        loss = F.mse_loss(zq, z.detach()) + self.beta * F.mse_loss(z, zq.detach())
        zq = z + (zq - z).detach()
        usage = torch.bincount(idx, minlength=self.emb.num_embeddings).gt(0).sum().item()
        return zq, loss, usage


class TileVQVAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Sequential(nn.Conv2d(1, 32, 4, 2, 1), nn.ReLU(), nn.Conv2d(32, 8, 3, 1, 1))   # 8x8 grid
        self.vq = VectorQuantizer()
        self.dec = nn.Sequential(nn.Conv2d(8, 32, 3, 1, 1), nn.ReLU(), nn.ConvTranspose2d(32, 1, 4, 2, 1))

    def forward(self, x):
        zq, vq_loss, usage = self.vq(self.enc(x))
        return self.dec(zq), vq_loss, usage


tiles = make_tiles(3000)
model = TileVQVAE()
opt = torch.optim.Adam(model.parameters(), lr=2e-3)
for epoch in range(1, 9):
    perm = torch.randperm(len(tiles))
    for i in range(0, len(tiles), 100):
        x = tiles[perm[i:i + 100]]
        logits, vq_loss, usage = model(x)
        rec = F.binary_cross_entropy_with_logits(logits, x)
        loss = rec + vq_loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        logits, _, usage = model(tiles[:500])
        mse = F.mse_loss(torch.sigmoid(logits), tiles[:500]).item()
    print(f"epoch {epoch}  rec {rec.item():.4f}  vq {vq_loss.item():.4f}  pixel mse {mse:.4f}  codes used {usage}/32")
