# source: https://github.com/pytorch/vision/issues/6753 (FlorinAndrei's comment: "I am testing with horizontal flip and the image and the mask are flipped in an uncoordinated fashion") and https://github.com/albumentations-team/albumentations/issues/397
# expect: targets-displaced
# category: vision
# bug: the dataset uses torchvision-style transform / target_transform, each an independent RandomHFlip instance, so image and mask draw their own coin flips and in half of the samples the mask is the mirror image of the object; the segmenter is trained on displaced masks and its IoU stays far lower
import random
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import Dataset, DataLoader

random.seed(10)
np.random.seed(10)
torch.manual_seed(10)

S = 32


class RandomHFlip:
    def __init__(self, p=0.5):
        self.p = p

    def __call__(self, t):
        if random.random() < self.p:
            return torch.flip(t, dims=[-1])
        return t


class LesionDataset(Dataset):
    """Gray 'ultrasound' frames with one irregular lesion; mask = lesion pixels."""

    def __init__(self, n, seed, transform=None, target_transform=None):
        rng = np.random.RandomState(seed)
        yy, xx = np.mgrid[0:S, 0:S]
        self.imgs = np.zeros((n, 1, S, S), np.float32)
        self.masks = np.zeros((n, S, S), np.int64)
        for k in range(n):
            cx, cy = rng.uniform(5, S - 5, 2)
            a, b = rng.uniform(2.5, 6, 2)
            ang = rng.uniform(0, np.pi)
            u = (xx - cx) * np.cos(ang) + (yy - cy) * np.sin(ang)
            v = -(xx - cx) * np.sin(ang) + (yy - cy) * np.cos(ang)
            m = (u / a) ** 2 + (v / b) ** 2 <= 1
            img = 0.4 + 0.25 * rng.randn(S, S) + 0.3 * np.sin(yy / 4.0)
            img[m] -= 0.5
            self.imgs[k, 0] = img
            self.masks[k] = m
        self.transform = transform
        self.target_transform = target_transform

    def __len__(self):
        return len(self.masks)

    def __getitem__(self, i):
        img = torch.from_numpy(self.imgs[i])
        mask = torch.from_numpy(self.masks[i])
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            mask = self.target_transform(mask)
        return img, mask


class EncDec(nn.Module):
    def __init__(self):
        super().__init__()
        self.down = nn.Sequential(
            nn.Conv2d(1, 12, 3, padding=1), nn.ReLU(),
            nn.Conv2d(12, 24, 3, stride=2, padding=1), nn.ReLU(),      # 16
            nn.Conv2d(24, 32, 3, stride=2, padding=1), nn.ReLU(),      # 8
        )
        self.up = nn.Sequential(
            nn.ConvTranspose2d(32, 24, 2, stride=2), nn.ReLU(),       # 16
            nn.ConvTranspose2d(24, 12, 2, stride=2), nn.ReLU(),       # 32
            nn.Conv2d(12, 2, 3, padding=1),
        )

    def forward(self, x):
        return self.up(self.down(x))


train_ds = LesionDataset(1100, 0, transform=RandomHFlip(0.5), target_transform=RandomHFlip(0.5))
val_ds = LesionDataset(250, 1)
train_dl = DataLoader(train_ds, batch_size=32, shuffle=True)
val_x = torch.from_numpy(val_ds.imgs)
val_m = torch.from_numpy(val_ds.masks)

model = EncDec()
opt = torch.optim.Adam(model.parameters(), lr=3e-3)

for epoch in range(7):
    model.train()
    tot = 0.0
    for img, mask in train_dl:
        loss = F.cross_entropy(model(img), mask)
        opt.zero_grad()
        loss.backward()
        opt.step()
        tot += loss.item()
    model.eval()
    with torch.no_grad():
        pred = model(val_x).argmax(1)
        inter = ((pred == 1) & (val_m == 1)).sum().item()
        union = ((pred == 1) | (val_m == 1)).sum().item()
    print(f"epoch {epoch}  train loss {tot / len(train_dl):.4f}  val lesion IoU {inter / max(union, 1):.3f}")
