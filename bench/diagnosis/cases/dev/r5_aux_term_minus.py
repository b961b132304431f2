# source: https://github.com/BUserName/Learning_to_diversify/issues/1
# expect: loss-sign-flipped
# category: multi-loss
# bug: the total loss subtracts the weighted auxiliary reconstruction term instead of adding it, so the optimizer maximizes the reconstruction error; it grows without bound and drags the shared encoder (and the main task) with it
"""Classifier with an auxiliary reconstruction head sharing the encoder."""
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)

N, D, C = 2000, 16, 4
centers = torch.randn(C, D) * 1.5
y = torch.randint(0, C, (N,))
X = centers[y] + torch.randn(N, D)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(D, 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU())
        self.cls = nn.Linear(32, C)
        self.dec = nn.Linear(32, D)

    def forward(self, x):
        h = self.encoder(x)
        return self.cls(h), self.dec(h)


model = Net()
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
BETA = 0.5

for epoch in range(10):
    perm = torch.randperm(N)
    sums = [0.0, 0.0, 0.0]
    for i in range(0, N, 100):
        idx = perm[i:i + 100]
        logits, recon = model(X[idx])
        cls_loss = F.cross_entropy(logits, y[idx])
        rec_loss = F.mse_loss(recon, X[idx])
        loss = cls_loss - BETA * rec_loss          # BUG: should be + BETA * rec_loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        for k, v in enumerate((loss, cls_loss, rec_loss)):
            sums[k] += v.item() / (N // 100)
    print(f"epoch {epoch}  total {sums[0]:.3f}  cls {sums[1]:.3f}  recon {sums[2]:.3f}")
