# source: https://github.com/ludwig-ai/ludwig/issues/641
# expect: loss-imbalance, unnormalized-targets
# category: multi-loss
# bug: a joint loss sums a cross-entropy (~0.7) with an MSE on raw-scale numeric targets (~1e5); the numeric term is orders of magnitude larger, owns the shared trunk, and the classification task never learns
"""Shared-trunk model with a binary head and a numeric head; loss = ce + mse, unweighted."""
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(11)

n, d = 4000, 8
X = torch.randn(n, d)
label = ((X[:, 0] > 0) ^ (X[:, 1] > 0)).long()              # XOR: needs trunk features
amount = 400 * X[:, 2] - 250 * X[:, 3] + 150 * X[:, 4] * X[:, 5] + 1000   # raw units, ~1e3


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(d, 16), nn.ReLU(), nn.Linear(16, 8), nn.ReLU())
        self.binary = nn.Linear(8, 2)
        self.numeric = nn.Linear(8, 1)

    def forward(self, x):
        h = self.trunk(x)
        return self.binary(h), self.numeric(h).squeeze(-1)


net = Net()
opt = torch.optim.Adam(net.parameters(), lr=3e-3)

for step in range(1500):
    idx = torch.randint(0, n, (128,))
    logits, amt = net(X[idx])
    ce = F.cross_entropy(logits, label[idx])
    mse = F.mse_loss(amt, amount[idx])
    loss = ce + mse                           # BUG: terms differ by ~5 orders of magnitude
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 150 == 0 or step == 1499:
        with torch.no_grad():
            lg, _ = net(X)
            acc = (lg.argmax(1) == label).float().mean().item()
        print(f"step {step:4d}  loss {loss.item():.4e}  ce {ce.item():.4f}  mse {mse.item():.4e}  binary acc {acc:.3f}")
