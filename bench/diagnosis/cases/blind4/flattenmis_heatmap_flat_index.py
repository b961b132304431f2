# source: https://github.com/max-andr/joint-cnn-mrf/issues/1 (heatmap argmax index converted with x/y roles swapped: coords_x = idx // width) - here the same row/column-major confusion is in the training target: the flat keypoint index is built as x * SIZE + y while logits are flattened row-major
# expect: targets-misaligned
# category: vision
# bug: the Dataset encodes the keypoint class index column-major (x * SIZE + y) but the heatmap logits are flattened row-major with flatten(1), so each pixel's score is trained against the transposed location; a local fully-convolutional net cannot move evidence across the diagonal and localisation fails
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import Dataset, DataLoader

np.random.seed(12)
torch.manual_seed(12)

SIZE = 24


def to_flat_index(x, y):
    return x * SIZE + y


def from_flat_index(idx):
    return idx // SIZE, idx % SIZE   # row (y), col (x)


class MarkerDataset(Dataset):
    """Find the centre of the '+' shaped fiducial among round distractor blobs."""

    def __init__(self, n, seed):
        rng = np.random.RandomState(seed)
        yy, xx = np.mgrid[0:SIZE, 0:SIZE]
        self.imgs = np.zeros((n, 1, SIZE, SIZE), np.float32)
        self.xy = np.zeros((n, 2), np.int64)
        for k in range(n):
            img = rng.randn(SIZE, SIZE) * 0.1
            for _ in range(rng.randint(1, 4)):
                bx, by = rng.randint(2, SIZE - 2, 2)
                img += 0.8 * np.exp(-((xx - bx) ** 2 + (yy - by) ** 2) / 3.0)
            x, y = rng.randint(2, SIZE - 2, 2)
            img[y, x - 2:x + 3] += 1.0
            img[y - 2:y + 3, x] += 1.0
            self.imgs[k, 0] = img
            self.xy[k] = (x, y)

    def __len__(self):
        return len(self.xy)

    def __getitem__(self, k):
        x, y = self.xy[k]
        return torch.from_numpy(self.imgs[k]), to_flat_index(int(x), int(y))


class HeatmapFCN(nn.Module):
    def __init__(self, ch=16):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, ch, 3, padding=1), nn.BatchNorm2d(ch), nn.ReLU(),
            nn.Conv2d(ch, ch, 3, padding=1), nn.BatchNorm2d(ch), nn.ReLU(),
            nn.Conv2d(ch, ch, 3, padding=2, dilation=2), nn.BatchNorm2d(ch), nn.ReLU(),
            nn.Conv2d(ch, 1, 1),
        )

    def forward(self, x):
        return self.body(x)            # (B, 1, H, W) heatmap logits


train_loader = DataLoader(MarkerDataset(1600, 0), batch_size=32, shuffle=True)
val_set = MarkerDataset(300, 1)
val_imgs = torch.from_numpy(val_set.imgs)
val_xy = torch.from_numpy(val_set.xy)

model = HeatmapFCN()
optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)

for epoch in range(4):
    model.train()
    for i, (img, target) in enumerate(train_loader):
        logits = model(img).flatten(1)          # (B, H*W)
        loss = F.cross_entropy(logits, target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if i % 20 == 0:
            print(f"epoch {epoch} iter {i:3d}  loss {loss.item():.4f}")
    scheduler.step()
    model.eval()
    with torch.no_grad():
        idx = model(val_imgs).flatten(1).argmax(1)
        row, col = from_flat_index(idx)
        err = torch.sqrt((col - val_xy[:, 0]).float() ** 2 + (row - val_xy[:, 1]).float() ** 2)
    print(f"epoch {epoch}  val mean px error {err.mean():.2f}  within 1px {(err <= 1).float().mean():.3f}")
