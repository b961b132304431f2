# source: https://pytorch.org/tutorials/beginner/transfer_learning_tutorial.html
# expect: healthy
# category: vision
# bug: none - a backbone pretrained in the first phase is deliberately frozen (requires_grad=False, its BatchNorm kept in eval mode) and only a new head, the sole parameters given to the optimizer, is trained on the new task
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(14)


def make_images(n, n_classes, seed):
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, n_classes, (n,), generator=g)
    imgs = 0.4 * torch.randn(n, 1, 12, 12, generator=g)
    for i in range(n):
        k = labels[i].item()
        r, c = divmod(k, 3)
        imgs[i, 0, 4 * r:4 * r + 4, 4 * c:4 * c + 4] += 1.0  # a bright patch in one of 9 cells
    return imgs, labels


backbone = nn.Sequential(
    nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.AdaptiveAvgPool2d(3),
    nn.Flatten(),
)

# phase 1: "pretraining" on the 9-cell task
Xa, ya = make_images(1536, 9, seed=1)
pre_head = nn.Linear(32 * 9, 9)
pre_opt = torch.optim.Adam(list(backbone.parameters()) + list(pre_head.parameters()), lr=3e-3)
for epoch in range(3):
    for xb, yb in DataLoader(TensorDataset(Xa, ya), batch_size=64, shuffle=True):
        loss = nn.functional.cross_entropy(pre_head(backbone(xb)), yb)
        pre_opt.zero_grad()
        loss.backward()
        pre_opt.step()
    print(f"pretrain epoch {epoch}  loss {loss.item():.4f}")

# phase 2: new task (which row is lit: 3 classes), backbone frozen on purpose
for p in backbone.parameters():
    p.requires_grad = False
backbone.eval()  # keep the pretrained BatchNorm statistics
head = nn.Sequential(nn.Dropout(0.2), nn.Linear(32 * 9, 3))
opt = torch.optim.SGD(head.parameters(), lr=0.05, momentum=0.9)

Xb, cell = make_images(1536, 9, seed=2)
yb_row = cell // 3
loader = DataLoader(TensorDataset(Xb, yb_row), batch_size=64, shuffle=True)
for epoch in range(6):
    head.train()
    total = 0.0
    for xb, yb in loader:
        with torch.no_grad():
            feats = backbone(xb)
        loss = nn.functional.cross_entropy(head(feats), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        total += loss.item()
    print(f"head epoch {epoch}  loss {total / len(loader):.4f}")
