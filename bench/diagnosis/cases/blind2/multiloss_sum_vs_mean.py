# source: https://github.com/zdebruine/MMVAE/pull/19
# expect: loss-imbalance
# category: multi-loss
# bug: a two-head model sums its regression term over batch and outputs (reduction='sum') but averages the cross-entropy, so the classification term has no say and the class head barely learns
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(30)
n, d = 3000, 20
X = torch.randn(n, d)
A = torch.randn(d, 8)
reg_y = X @ A * 0.5                                     # 8 regression outputs
cls_y = (X[:, :3].sum(1) > 0).long() + (X[:, 3] > 1).long()   # 3 classes


class TwoHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(d, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU())
        self.reg = nn.Linear(64, 8)
        self.cls = nn.Linear(64, 3)

    def forward(self, x):
        h = self.trunk(x)
        return self.reg(h), self.cls(h)


model = TwoHead()
opt = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)
for step in range(400):
    idx = torch.randint(0, 2500, (64,))
    r, c = model(X[idx])
    reg_loss = F.mse_loss(r, reg_y[idx], reduction="sum")
    cls_loss = F.cross_entropy(c, cls_y[idx])
    loss = reg_loss + cls_loss
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 40 == 0 or step == 399:
        with torch.no_grad():
            r, c = model(X[2500:])
            acc = (c.argmax(1) == cls_y[2500:]).float().mean().item()
        print(f"step {step} total {loss.item():.2f} reg {reg_loss.item():.2f} cls {cls_loss.item():.4f} val cls acc {acc:.3f}")
