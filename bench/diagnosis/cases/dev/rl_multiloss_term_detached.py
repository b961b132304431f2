# source: https://github.com/lucidrains/compressive-transformer-pytorch/issues/5
# expect: graph-break
# category: multi-loss
# bug: one term of the joint loss is computed on a detached tensor (z.detach()), so the encoder receives no gradient from the classification objective and only learns to reconstruct
"""Joint autoencoder + classifier on a shared 4-d code: loss = reconstruction + cross-entropy."""
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(9)

n, d = 4096, 20
scales = torch.full((d,), 0.5)
scales[:3] = 4.0                               # three loud nuisance directions
X = torch.randn(n, d) * scales
y = ((X[:, 5] + X[:, 6] - X[:, 7]) > 0).long()  # the label lives in quiet directions


class Joint(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(d, 64), nn.ReLU(), nn.Linear(64, 4))
        self.decoder = nn.Sequential(nn.Linear(4, 64), nn.ReLU(), nn.Linear(64, d))
        self.classifier = nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 2))

    def forward(self, x):
        z = self.encoder(x)
        recon = self.decoder(z)
        logits = self.classifier(z.detach())   # BUG: the classification term cannot shape the encoder
        return recon, logits


model = Joint()
opt = torch.optim.Adam(model.parameters(), lr=2e-3)

for epoch in range(15):
    perm = torch.randperm(n)
    for i in range(0, n, 128):
        idx = perm[i:i + 128]
        recon, logits = model(X[idx])
        rec_loss = F.mse_loss(recon, X[idx])
        cls_loss = F.cross_entropy(logits, y[idx])
        loss = rec_loss + cls_loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        recon, logits = model(X)
        acc = (logits.argmax(1) == y).float().mean().item()
        print(f"epoch {epoch:2d}  loss {loss.item():.4f}  recon {F.mse_loss(recon, X).item():.4f}  ce {F.cross_entropy(logits, y).item():.4f}  acc {acc:.3f}")
