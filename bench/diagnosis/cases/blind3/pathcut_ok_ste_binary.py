# source: https://github.com/microsoft/LQ-Nets/issues/9
# expect: healthy
# category: tabular
# bug: a binarized hidden layer uses sign() with a straight-through estimator (h + (sign(h) - h).detach()), so the layers before it keep learning
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(4)

N = 4000
X = torch.randn(N, 16)
w1, w2 = torch.randn(16), torch.randn(16)
y = ((X @ w1 > 0) ^ (X @ w2 > 0.5)).long()


class BinaryAct(nn.Module):
    def forward(self, h):
        h = torch.clamp(h, -1, 1)
        return h + (torch.sign(h) - h).detach()


model = nn.Sequential(nn.Linear(16, 128), nn.BatchNorm1d(128), BinaryAct(),
                      nn.Linear(128, 64), nn.BatchNorm1d(64), BinaryAct(), nn.Linear(64, 2))
opt = torch.optim.Adam(model.parameters(), lr=3e-3)

for step in range(300):
    idx = torch.randint(0, N, (128,))
    logits = model(X[idx])
    loss = F.cross_entropy(logits, y[idx])
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 30 == 0 or step == 299:
        acc = (logits.argmax(1) == y[idx]).float().mean().item()
        print(f"step {step:3d}  loss {loss.item():.4f}  acc {acc:.3f}")
