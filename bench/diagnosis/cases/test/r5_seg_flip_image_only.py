# source: https://github.com/bigmb/Unet-Segmentation-Pytorch-Nest-of-Unets/issues/29
# expect: labels-decoupled
# category: vision
# bug: the dataset's random flip augmentation is applied to the image transform only; the mask goes through its own transform without the flip, so three samples in four have a mask that no longer lies on the object
"""Tiny fully-convolutional segmenter for blobs, with flip augmentation."""
import random

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

random.seed(0)
torch.manual_seed(0)

H = 24


def make_sample(g):
    img = torch.zeros(1, H, H)
    mask = torch.zeros(1, H, H)
    y0, x0 = torch.randint(0, 12, (2,), generator=g).tolist()   # objects in the top-left quadrant...
    h, w = torch.randint(4, 9, (2,), generator=g).tolist()
    img[:, y0:y0 + h, x0:x0 + w] = 1.0
    mask[:, y0:y0 + h, x0:x0 + w] = 1.0
    img += 0.3 * torch.randn(1, H, H, generator=g)
    return img, mask


class BlobDataset(Dataset):
    def __init__(self, n):
        g = torch.Generator().manual_seed(1)
        self.items = [make_sample(g) for _ in range(n)]

    def __len__(self):
        return len(self.items)

    def image_transform(self, img):
        if random.random() < 0.5:
            img = torch.flip(img, dims=[2])
        if random.random() < 0.5:
            img = torch.flip(img, dims=[1])
        return (img - 0.2) / 0.5

    def mask_transform(self, mask):
        return mask                      # BUG: the flips above are never applied to the mask

    def __getitem__(self, i):
        img, mask = self.items[i]
        return self.image_transform(img), self.mask_transform(mask)


net = nn.Sequential(
    nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(),
    nn.Conv2d(16, 16, 3, padding=2, dilation=2), nn.ReLU(),
    nn.Conv2d(16, 16, 3, padding=4, dilation=4), nn.ReLU(),
    nn.Conv2d(16, 1, 1),
)
opt = torch.optim.Adam(net.parameters(), lr=5e-3)
loader = DataLoader(BlobDataset(256), batch_size=16, shuffle=True)

for epoch in range(10):
    tot, inter, union = 0.0, 0.0, 0.0
    for img, mask in loader:
        logits = net(img)
        loss = F.binary_cross_entropy_with_logits(logits, mask)
        opt.zero_grad()
        loss.backward()
        opt.step()
        tot += loss.item() * len(img)
        pred = (logits > 0).float()
        inter += (pred * mask).sum().item()
        union += ((pred + mask) > 0).float().sum().item()
    print(f"epoch {epoch}  bce {tot / 256:.4f}  IoU {inter / max(union, 1):.3f}")
