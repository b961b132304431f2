# source: https://stats.stackexchange.com/questions/267024/what-if-do-not-use-any-activation-function-in-the-neural-network
# expect: no-nonlinearity, cannot-overfit-batch, underfitting
# category: classification
# bug: the "deep" classifier stacks Linear layers with no activation between them, so it collapses to one linear map and cannot separate classes that are not linearly separable (concentric rings)
"""Three-layer classifier on concentric rings."""
import math

import torch
import torch.nn as nn

torch.manual_seed(0)


def rings(n):
    r = torch.randint(0, 3, (n,))
    radius = 1.0 + r.float() + 0.15 * torch.randn(n)
    theta = torch.rand(n) * 2 * math.pi
    x = torch.stack([radius * torch.cos(theta), radius * torch.sin(theta)], 1)
    return x, r


X, y = rings(1500)

model = nn.Sequential(
    nn.Linear(2, 64),
    nn.Linear(64, 64),      # BUG: no nonlinearity anywhere
    nn.Linear(64, 3),
)
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
crit = nn.CrossEntropyLoss()

for epoch in range(12):
    perm = torch.randperm(len(X))
    tot = 0.0
    for i in range(0, len(X), 100):
        idx = perm[i:i + 100]
        loss = crit(model(X[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        tot += loss.item() * len(idx)
    if epoch % 3 == 0 or epoch == 11:
        with torch.no_grad():
            acc = (model(X).argmax(1) == y).float().mean().item()
        print(f"epoch {epoch:2d}  loss {tot / len(X):.4f}  acc {acc:.3f}")
