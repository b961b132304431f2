# source: PyTorch forum, "Weight initialization with a constant value" / Humbatova et al. ICSE 2020 taxonomy "Wrong weights initialisation" — He-init std computed by hand but written with fill_, so every filter is the same constant
# expect: symmetric-units
# category: vision
# bug: he_init_ computes the He std correctly but writes it with weight.fill_(std) instead of drawing normal(0, std); every conv filter and every classifier column is the same constant, so all channels of each layer compute identical maps and the 16/32/48-channel CNN acts like a 1-channel one
import math
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

torch.manual_seed(3)
np.random.seed(3)

IMG = 20
CLASSES = [(ang, freq) for ang in (0.0, math.pi / 4, math.pi / 2) for freq in (2.0, 5.0)]


class GratingDataset(Dataset):
    """Noisy oriented gratings, stored channels-last (H, W, C) like a PIL/numpy pipeline."""

    def __init__(self, n, seed):
        rng = np.random.default_rng(seed)
        yy, xx = np.meshgrid(np.linspace(0, 1, IMG), np.linspace(0, 1, IMG), indexing="ij")
        self.labels = rng.integers(0, len(CLASSES), n)
        imgs = np.empty((n, IMG, IMG, 3), dtype=np.float32)
        for i, c in enumerate(self.labels):
            ang, freq = CLASSES[c]
            ang += rng.normal(0, 0.15)
            phase = rng.uniform(0, 2 * np.pi)
            g = np.sin(2 * np.pi * freq * (xx * np.cos(ang) + yy * np.sin(ang)) + phase)
            tint = rng.uniform(0.5, 1.0, size=3)
            imgs[i] = g[..., None] * tint + rng.normal(0, 0.6, size=(IMG, IMG, 3))
        self.imgs = imgs

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return torch.from_numpy(self.imgs[i]), int(self.labels[i])


def he_init_(m):
    if isinstance(m, (nn.Conv2d, nn.Linear)):
        fan_in = m.weight[0].numel()
        std = math.sqrt(2.0 / fan_in)
        with torch.no_grad():
            m.weight.fill_(std)
            if m.bias is not None:
                m.bias.zero_()


class SmallConvNet(nn.Module):
    def __init__(self, n_classes=len(CLASSES)):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 48, 3, padding=1), nn.BatchNorm2d(48), nn.ReLU(),
        )
        self.classifier = nn.Linear(48, n_classes)
        self.apply(he_init_)

    def forward(self, x_nhwc):
        x = x_nhwc.permute(0, 3, 1, 2)
        x = self.features(x)
        return self.classifier(x.mean(dim=(2, 3)))


def run():
    train_dl = DataLoader(GratingDataset(1600, 0), batch_size=64, shuffle=True)
    val_ds = GratingDataset(600, 1)
    xv = torch.from_numpy(val_ds.imgs)
    yv = torch.from_numpy(val_ds.labels)
    model = SmallConvNet()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=6)
    t0 = time.time()
    for epoch in range(6):
        model.train()
        tot = 0.0
        for xb, yb in train_dl:
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            tot += loss.item() * len(yb)
        sched.step()
        model.eval()
        with torch.no_grad():
            acc = (model(xv).argmax(1) == yv).float().mean().item()
        print(f"epoch {epoch + 1} loss {tot / len(train_dl.dataset):.4f} val_acc {acc:.3f} ({time.time() - t0:.1f}s)")


if __name__ == "__main__":
    run()
