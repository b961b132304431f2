# source: https://openillumi.com/?p=83529 ("Convert (3, H, W) to (H, W, 3) ... the real reason view() won't work") and https://github.com/BonnBytes/PyTorch-FWD/issues/16 (reshape used where a transpose was needed destroys the image structure); here the HWC->CHW direction inside a custom ToTensor transform
# expect: layout-scrambled
# category: vision
# bug: the custom HWCToTensor transform turns an (H, W, 3) uint8 image into (3, H, W) with .view instead of .permute(2, 0, 1), so colour channels are interleaved along the width and rows are redistributed across channels; the CNN sees a scrambled image and classifies colour/shape combinations far worse
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import Dataset, DataLoader

np.random.seed(17)
torch.manual_seed(17)

RES = 32
COLORS = {"red": (220, 40, 40), "green": (40, 200, 60), "blue": (50, 70, 220)}
SHAPES = ["disk", "square", "triangle"]
CLASSES = [(c, s) for c in COLORS for s in SHAPES]      # 9 classes


def paint(color, shape, rng):
    yy, xx = np.mgrid[0:RES, 0:RES]
    img = rng.randint(60, 140, size=(RES, RES, 1)).repeat(3, axis=2).astype(np.int32)   # gray clutter
    img += rng.randint(-25, 25, size=(RES, RES, 3))
    r = rng.uniform(4, 7)
    cx, cy = rng.uniform(r, RES - r, 2)
    if shape == "disk":
        m = (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r
    elif shape == "square":
        m = (np.abs(xx - cx) <= r * 0.8) & (np.abs(yy - cy) <= r * 0.8)
    else:
        m = (yy - cy <= r * 0.8) & (yy - cy >= -r) & (np.abs(xx - cx) <= (yy - cy + r) * 0.55)
    jitter = rng.randint(-30, 30, 3)
    img[m] = np.array(COLORS[color]) + jitter
    return np.clip(img, 0, 255).astype(np.uint8)          # (H, W, 3) like PIL / cv2


class HWCToTensor:
    """uint8 HWC array -> float CHW tensor in [0, 1], normalised."""

    def __init__(self, mean=(0.45, 0.42, 0.42), std=(0.25, 0.25, 0.25)):
        self.mean = torch.tensor(mean).view(3, 1, 1)
        self.std = torch.tensor(std).view(3, 1, 1)

    def __call__(self, arr):
        h, w, c = arr.shape
        t = torch.from_numpy(arr).float().div_(255.0)
        t = t.view(c, h, w)
        return (t - self.mean) / self.std


class ColoredShapes(Dataset):
    def __init__(self, n, seed, transform):
        rng = np.random.RandomState(seed)
        self.y = rng.randint(0, len(CLASSES), n)
        self.x = np.stack([paint(*CLASSES[k], rng) for k in self.y])   # (N, H, W, 3) uint8
        self.transform = transform

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return self.transform(self.x[i]), int(self.y[i])


class SmallCNN(nn.Module):
    def __init__(self, n_cls=len(CLASSES)):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(),
            nn.AdaptiveMaxPool2d(1), nn.Flatten(),
        )
        self.classifier = nn.Linear(64, n_cls)

    def forward(self, x):
        return self.classifier(self.features(x))


tf = HWCToTensor()
train_loader = DataLoader(ColoredShapes(1200, 0, tf), batch_size=32, shuffle=True)
test_loader = DataLoader(ColoredShapes(400, 1, tf), batch_size=200)

model = SmallCNN()
optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)

for epoch in range(5):
    model.train()
    for batch_idx, (data, target) in enumerate(train_loader):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(data), target)
        loss.backward()
        optimizer.step()
        if batch_idx % 15 == 0:
            print(f"Train Epoch: {epoch} [{batch_idx * len(data)}/{len(train_loader.dataset)}]\tLoss: {loss.item():.4f}")
    model.eval()
    correct = 0
    with torch.no_grad():
        for data, target in test_loader:
            correct += (model(data).argmax(1) == target).sum().item()
    print(f"Test set: Accuracy: {correct}/{len(test_loader.dataset)} ({100.0 * correct / len(test_loader.dataset):.1f}%)")
