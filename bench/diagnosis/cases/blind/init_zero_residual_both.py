# source: https://github.com/yz93/LAVT-RIS/issues/25
# expect: symmetric-units
# category: vision
# bug: each residual branch's last conv AND its BN gamma are zero-initialised (the recipes zero one of the two): no gradient reaches either, so the branches never train and the network is its skip connections (written as healthy; relabelled after measuring that the branch weights stay exactly zero)
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)


def make_images(n, size=16):
    """Two blobs vs one blob, in NCHW with 2 channels."""
    imgs = 0.2 * torch.randn(n, 2, size, size)
    labels = torch.randint(0, 2, (n,))
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    for i in range(n):
        for _ in range(int(labels[i]) + 1):
            cy, cx = torch.randint(3, size - 3, (2,)).tolist()
            blob = torch.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 4.0)
            imgs[i, torch.randint(0, 2, (1,)).item()] += blob
    return imgs, labels


class ResBlock(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.conv1 = nn.Conv2d(ch, ch, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(ch)
        self.conv2 = nn.Conv2d(ch, ch, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(ch)
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.bn2.weight)

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        h = self.bn2(self.conv2(h))
        return F.relu(x + h)


class ResNetTiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(2, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        self.blocks = nn.Sequential(ResBlock(16), ResBlock(16))
        self.fc = nn.Linear(16, 2)

    def forward(self, x):
        x = self.blocks(self.stem(x))
        return self.fc(x.mean(dim=(2, 3)))


train_x, train_y = make_images(768)
val_x, val_y = make_images(256)
model = ResNetTiny()
opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)

for step in range(150):
    idx = torch.randint(0, len(train_x), (48,))
    loss = F.cross_entropy(model(train_x[idx]), train_y[idx])
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 15 == 0 or step == 149:
        model.eval()
        with torch.no_grad():
            acc = (model(val_x).argmax(1) == val_y).float().mean().item()
        model.train()
        print(f"step {step:3d}  loss {loss.item():.4f}  val_acc {acc:.3f}")
