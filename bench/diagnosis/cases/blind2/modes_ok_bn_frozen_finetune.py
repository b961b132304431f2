# source: https://github.com/isht7/pytorch-deeplab-resnet/issues/39
# expect: healthy
# category: vision
# bug: none — fine-tuning a pretrained CNN with its BatchNorm layers deliberately frozen (put back in eval() after every model.train()), the standard small-batch fine-tuning recipe
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(25)


def shapes(n, shift=0.0):
    x = torch.randn(n, 1, 14, 14) * 0.4 + shift
    y = torch.randint(0, 2, (n,))
    x[y == 0, :, 4:10, 6:8] += 1.5
    x[y == 1, :, 6:8, 4:10] += 1.5
    return x, y


backbone = nn.Sequential(
    nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
)
head = nn.Linear(32, 2)
model = nn.Sequential(backbone, head)

# "pretraining" with large batches
px, py = shapes(2000)
opt = torch.optim.Adam(model.parameters(), lr=2e-3)
model.train()
for step in range(120):
    idx = torch.randint(0, 2000, (64,))
    loss = F.cross_entropy(model(px[idx]), py[idx])
    opt.zero_grad(); loss.backward(); opt.step()
print(f"pretrain loss {loss.item():.4f}")

# fine-tune on a new task (labels swapped meaning, small batches of 4)
fx, fy = shapes(400)
fy = 1 - fy
head = nn.Linear(32, 2)
model = nn.Sequential(backbone, head)


def freeze_bn(m):
    for mod in m.modules():
        if isinstance(mod, nn.BatchNorm2d):
            mod.eval()
            for p in mod.parameters():
                p.requires_grad_(False)


opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.02, momentum=0.9)
for epoch in range(3):
    model.train()
    freeze_bn(model)
    total = 0.0
    for i in range(0, 400, 4):
        loss = F.cross_entropy(model(fx[i:i + 4]), fy[i:i + 4])
        opt.zero_grad(); loss.backward(); opt.step()
        total += loss.item()
    model.eval()
    with torch.no_grad():
        tx, ty = shapes(300)
        acc = (model(tx).argmax(1) == (1 - ty)).float().mean().item()
    print(f"epoch {epoch} fine-tune loss {total / 100:.4f} val acc {acc:.3f}")
