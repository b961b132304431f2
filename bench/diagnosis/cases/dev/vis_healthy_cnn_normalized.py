# source: https://github.com/pytorch/vision/issues/48
# expect: healthy
# category: vision
# bug: none: uint8 HWC images are permuted to CHW, scaled by 1/255 and standardized with the training mean/std in the collate function; BatchNorm with batches of 32; eval() for validation and train() again after it
"""Colour-and-shape CNN on 3x16x16 uint8 images stored channels-last, done right."""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader

torch.manual_seed(0)
rng = np.random.default_rng(6)

N_CLASSES = 4


def render(k):
    img = rng.integers(60, 110, size=(16, 16, 3)).astype(np.float32)   # noisy background
    colour = rng.integers(150, 256, size=3)
    r, c = rng.integers(3, 13, size=2)
    if k == 0:
        img[r, 1:15] = colour
    elif k == 1:
        img[1:15, c] = colour
    elif k == 2:
        img[r - 2:r + 2, c - 2:c + 2] = colour
    else:
        for i in range(1, 15):
            img[i, 15 - i] = colour
    return img.astype(np.uint8)


def make_split(n):
    ys = rng.integers(0, N_CLASSES, size=n)
    return [(render(k), int(k)) for k in ys]


train_set, val_set = make_split(1200), make_split(300)
stack = np.stack([im for im, _ in train_set]).astype(np.float32) / 255.0
MEAN = torch.tensor(stack.mean(axis=(0, 1, 2))).view(1, 3, 1, 1)
STD = torch.tensor(stack.std(axis=(0, 1, 2))).view(1, 3, 1, 1)


def collate(items):
    imgs = torch.from_numpy(np.stack([im for im, _ in items]))          # (B, H, W, C) uint8
    x = imgs.permute(0, 3, 1, 2).float() / 255.0                         # (B, C, H, W) in [0, 1]
    x = (x - MEAN) / STD
    y = torch.tensor([lbl for _, lbl in items])
    return x, y


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.block1 = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2))
        self.block2 = nn.Sequential(nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2))
        self.head = nn.Linear(32 * 4 * 4, N_CLASSES)

    def forward(self, x):
        return self.head(self.block2(self.block1(x)).flatten(1))


train_loader = DataLoader(train_set, batch_size=32, shuffle=True, collate_fn=collate)
val_loader = DataLoader(val_set, batch_size=100, collate_fn=collate)
model = SmallCNN()
opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
sched = torch.optim.lr_scheduler.StepLR(opt, step_size=4, gamma=0.5)

for epoch in range(8):
    model.train()
    tot, n = 0.0, 0
    for x, y in train_loader:
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        tot += loss.item() * len(y)
        n += len(y)
    sched.step()
    model.eval()
    correct = 0
    with torch.no_grad():
        for x, y in val_loader:
            correct += (model(x).argmax(1) == y).sum().item()
    print(f"epoch {epoch} train loss {tot / n:.4f} val acc {correct / len(val_set):.3f}")
