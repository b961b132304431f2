# source: https://theneuralbase.com/pytorch/learn/intermediate/replacing-the-classification-head/
# expect: healthy
# category: vision
# bug: none - transfer learning done right: a CNN pretrained in the script on one task is frozen (requires_grad=False), its head is replaced BEFORE the optimizer is built, and the optimizer receives only the new head's parameters
"""Pretrain a small CNN on shape classes, then fine-tune a new head on a related task."""
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)


def shapes(n, g):
    imgs = torch.zeros(n, 1, 16, 16)
    kind = torch.randint(0, 4, (n,), generator=g)
    for i in range(n):
        cy, cx = torch.randint(4, 12, (2,), generator=g).tolist()
        k = int(kind[i])
        if k == 0:
            imgs[i, 0, cy - 3:cy + 3, cx - 3:cx + 3] = 1.0
        elif k == 1:
            imgs[i, 0, cy, :] = 1.0
        elif k == 2:
            imgs[i, 0, :, cx] = 1.0
        else:
            imgs[i, 0, cy, :] = 1.0
            imgs[i, 0, :, cx] = 1.0
    return imgs + 0.2 * torch.randn(n, 1, 16, 16, generator=g), kind


class Net(nn.Module):
    def __init__(self, classes):
        super().__init__()
        self.backbone = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten(),
        )
        self.fc = nn.Linear(128, classes)

    def forward(self, x):
        return self.fc(self.backbone(x))


g = torch.Generator().manual_seed(0)
X, kind = shapes(1200, g)

# stage 1: "pretraining" on the 4 shape classes
model = Net(4)
opt = torch.optim.Adam(model.parameters(), lr=2e-3)
for step in range(120):
    idx = torch.randint(0, len(X), (64,))
    loss = F.cross_entropy(model(X[idx]), kind[idx])
    opt.zero_grad()
    loss.backward()
    opt.step()
print(f"pretraining done, loss {loss.item():.4f}")

# stage 2: new task - does the image contain a horizontal line? (classes 1 and 3)
target = ((kind == 1) | (kind == 3)).long()
for p in model.backbone.parameters():
    p.requires_grad = False
model.fc = nn.Linear(128, 2)                                   # replaced before the optimizer is built
opt = torch.optim.SGD(model.fc.parameters(), lr=0.1, momentum=0.9)
model.backbone.eval()
for epoch in range(6):
    perm = torch.randperm(len(X))
    tot = 0.0
    for i in range(0, len(X), 100):
        idx = perm[i:i + 100]
        loss = F.cross_entropy(model(X[idx]), target[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        tot += loss.item() * len(idx)
    print(f"fine-tune epoch {epoch}  loss {tot / len(X):.4f}")
