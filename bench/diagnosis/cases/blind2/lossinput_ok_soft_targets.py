# source: https://runebook.dev/en/docs/pytorch/generated/torch.nn.crossentropyloss/torch.nn.CrossEntropyLoss
# expect: healthy
# category: classification
# bug: none; mixup gives one-hot/soft probability targets to nn.CrossEntropyLoss, which accepts class probabilities as targets (torch >= 1.10)
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(7)

n, d, k = 2400, 10, 5
centers = torch.randn(k, d) * 2
labels = torch.randint(0, k, (n,))
features = centers[labels] + torch.randn(n, d)

model = nn.Sequential(nn.Linear(d, 64), nn.GELU(), nn.Linear(64, 64), nn.GELU(), nn.Linear(64, k))
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)


def mixup(x, y_onehot, alpha=0.2):
    lam = torch.distributions.Beta(alpha, alpha).sample()
    perm = torch.randperm(x.size(0))
    return lam * x + (1 - lam) * x[perm], lam * y_onehot + (1 - lam) * y_onehot[perm]


for step in range(250):
    idx = torch.randint(0, n, (96,))
    xb = features[idx]
    yb = F.one_hot(labels[idx], k).float()
    xb, yb = mixup(xb, yb)
    loss = criterion(model(xb), yb)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if step % 25 == 0 or step == 249:
        with torch.no_grad():
            acc = (model(features).argmax(1) == labels).float().mean().item()
        print(f"step {step:3d}  loss {loss.item():.4f}  acc {acc:.3f}")
