# source: https://github.com/pytorch/vision/issues/48
# expect: view-as-permute
# category: vision
# bug: HWC images (as loaded by PIL/OpenCV) are turned into CHW with .view(N, 3, H, W) instead of .permute(0, 3, 1, 2); the colour planes the CNN sees are interleaved R,G,B strips of the whole image, so the colour that defines the class is scrambled
"""Colour classifier: which colour (red / green / blue) is the square drawn on a grey background?"""
import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Dataset

torch.manual_seed(0)
rng = np.random.default_rng(1)

H = W = 16
COLOURS = np.array([[1.0, 0.15, 0.15], [0.15, 1.0, 0.15], [0.15, 0.15, 1.0]])


class SquaresHWC(Dataset):
    """Images kept in height x width x channel order, floats in [0, 1]."""

    def __init__(self, n):
        self.labels = rng.integers(0, 3, size=n)
        self.images = np.empty((n, H, W, 3), dtype=np.float32)
        for i, k in enumerate(self.labels):
            img = 0.45 + 0.1 * rng.standard_normal((H, W, 1)) * np.ones((1, 1, 3))
            r, c = rng.integers(0, H - 6, size=2)
            img[r:r + 6, c:c + 6, :] = COLOURS[k]
            self.images[i] = img

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return torch.from_numpy(self.images[i]), int(self.labels[i])


def to_nchw(batch):
    n, h, w, c = batch.shape
    return batch.view(n, c, h, w)          # BUG: should be batch.permute(0, 3, 1, 2)


model = nn.Sequential(
    nn.Conv2d(3, 16, 3), nn.ReLU(),
    nn.Conv2d(16, 32, 3), nn.ReLU(),
    nn.AdaptiveAvgPool2d(1), nn.Flatten(),
    nn.Linear(32, 3),
)
loader = DataLoader(SquaresHWC(960), batch_size=32, shuffle=True)
opt = torch.optim.Adam(model.parameters(), lr=3e-3)
loss_fn = nn.CrossEntropyLoss()

for epoch in range(8):
    running, hits, count = 0.0, 0, 0
    for images, labels in loader:
        x = to_nchw(images)
        out = model(x)
        loss = loss_fn(out, labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
        running += loss.item() * len(labels)
        hits += (out.argmax(1) == labels).sum().item()
        count += len(labels)
    print(f"epoch {epoch}: loss={running / count:.4f} acc={hits / count:.3f}")
