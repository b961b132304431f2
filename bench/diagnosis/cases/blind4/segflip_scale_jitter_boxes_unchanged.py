# source: https://github.com/pytorch/vision/issues/1406 ("[RFC] Abstractions for segmentation / detection transforms": classic torchvision geometric transforms only touch the image, boxes have to be transformed separately) and PyTorch-forum reports of single-object localisers whose boxes come out too small after adding scale jitter
# expect: targets-displaced
# category: vision
# bug: the Dataset applies a random centre zoom (scale jitter 1.0-2.2x) to the image but returns the original box coordinates, so the parcel the network sees is larger than and displaced from its target box; the localiser learns boxes that are too small and pulled toward the centre, and its IoU plateaus well below what it should reach
import random
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import Dataset, DataLoader

random.seed(33)
np.random.seed(33)
torch.manual_seed(33)

S = 40


def scene(rng):
    """One parcel on a conveyor belt, box = (x1, y1, x2, y2) in pixels (clean render, noise added later)."""
    img = np.ones((3, S, S), np.float32) * rng.uniform(0.2, 0.45, (3, 1, 1)).astype(np.float32)
    w, h = rng.randint(10, 24, 2)
    x1, y1 = rng.randint(0, S - w), rng.randint(0, S - h)
    color = rng.uniform(0.55, 1.0, 3)
    img[:, y1:y1 + h, x1:x1 + w] = color[:, None, None]
    return img, np.array([x1, y1, x1 + w, y1 + h], np.float32)


class RandomZoomIn:
    """Scale jitter: zoom into the centre of the frame by a random factor."""

    def __init__(self, size, zoom=(1.0, 2.2)):
        self.size, self.zoom = size, zoom

    def __call__(self, img):
        z = random.uniform(*self.zoom)
        side = int(round(self.size / z))
        off = (self.size - side) // 2
        crop = img[:, off:off + side, off:off + side]
        return F.interpolate(crop.unsqueeze(0), size=(self.size, self.size), mode="nearest")[0]


class ParcelDataset(Dataset):
    def __init__(self, n, seed, augment=None):
        rng = np.random.RandomState(seed)
        data = [scene(rng) for _ in range(n)]
        self.imgs = np.stack([d[0] for d in data])
        self.boxes = np.stack([d[1] for d in data])
        self.augment = augment

    def __len__(self):
        return len(self.boxes)

    def __getitem__(self, i):
        img = torch.from_numpy(self.imgs[i])
        box = torch.from_numpy(self.boxes[i])
        if self.augment is not None:
            img = self.augment(img)
        img = img + 0.08 * torch.randn_like(img)          # sensor noise
        return img, box / S


class BoxRegressor(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 32, 3, stride=2, padding=1), nn.BatchNorm2d(32), nn.ReLU(),     # 20
            nn.Conv2d(32, 32, 3, stride=2, padding=1), nn.BatchNorm2d(32), nn.ReLU(),    # 10
            nn.Conv2d(32, 32, 3, stride=2, padding=1), nn.BatchNorm2d(32), nn.ReLU(),    # 5
        )
        self.regressor = nn.Sequential(nn.Flatten(), nn.Linear(32 * 5 * 5, 128), nn.ReLU(),
                                       nn.Linear(128, 4), nn.Sigmoid())

    def forward(self, x):
        return self.regressor(self.features(x))


def box_iou(a, b):
    lt = torch.max(a[:, :2], b[:, :2])
    rb = torch.min(a[:, 2:], b[:, 2:])
    inter = (rb - lt).clamp(min=0).prod(1)
    area = lambda t: (t[:, 2:] - t[:, :2]).clamp(min=0).prod(1)
    return inter / (area(a) + area(b) - inter + 1e-9)


train_dl = DataLoader(ParcelDataset(1600, 0, augment=RandomZoomIn(S)), batch_size=32, shuffle=True)
val_ds = ParcelDataset(400, 1)
val_x = torch.stack([val_ds[i][0] for i in range(len(val_ds))])
val_b = torch.from_numpy(val_ds.boxes) / S

model = BoxRegressor()
opt = torch.optim.Adam(model.parameters(), lr=2e-3)
sched = torch.optim.lr_scheduler.StepLR(opt, step_size=4, gamma=0.3)

for epoch in range(7):
    model.train()
    for it, (img, box) in enumerate(train_dl):
        loss = F.smooth_l1_loss(model(img), box, beta=0.02)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if it % 20 == 0:
            print(f"epoch {epoch} it {it:2d}  box loss {loss.item():.4f}")
    sched.step()
    model.eval()
    with torch.no_grad():
        iou = box_iou(model(val_x), val_b)
    print(f"epoch {epoch}  val mean IoU {iou.mean():.3f}  IoU>0.5 {(iou > 0.5).float().mean():.3f}")
