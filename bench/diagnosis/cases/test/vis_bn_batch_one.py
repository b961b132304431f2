# source: https://discuss.pytorch.org/t/batch-norm-training-when-batch-size-1/102979
# expect: batchnorm-small-batch
# category: vision
# bug: the CNN with BatchNorm2d is trained with batch_size=1, so each image is normalized by its own per-channel statistics; the overall brightness that separates the classes is divided out and the loss stays at chance
"""Day / night classifier: the same kind of scenes, photographed bright (day) or dark (night)."""
import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
rng = np.random.default_rng(3)


def scene(n):
    # smooth random texture: a few blobs on a background
    yy, xx = np.mgrid[:16, :16]
    imgs = np.zeros((n, 1, 16, 16), dtype=np.float32)
    for i in range(n):
        img = 0.3 + 0.05 * rng.standard_normal((16, 16))
        for _ in range(3):
            cy, cx = rng.uniform(0, 16, size=2)
            img += 0.5 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 8.0)
        imgs[i, 0] = img
    return imgs


n = 400
is_day = rng.integers(0, 2, size=n)
brightness = np.where(is_day == 1, 1.0, 0.35).astype(np.float32)
images = scene(n) * brightness[:, None, None, None]
images = (images - images.mean()) / images.std()          # dataset-level normalization (fine)

ds = TensorDataset(torch.from_numpy(images), torch.from_numpy(is_day).long())
loader = DataLoader(ds, batch_size=1, shuffle=True)        # BUG: batch of one + BatchNorm2d

model = nn.Sequential(
    nn.Conv2d(1, 8, 3), nn.BatchNorm2d(8), nn.ReLU(),
    nn.Conv2d(8, 16, 3), nn.BatchNorm2d(16), nn.ReLU(),
    nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 2),
)
opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
criterion = nn.CrossEntropyLoss()

model.train()
for epoch in range(4):
    total = 0.0
    for step, (x, y) in enumerate(loader):
        opt.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        opt.step()
        total += loss.item()
    print(f"epoch {epoch} mean loss {total / len(loader):.4f}")

model.eval()
with torch.no_grad():
    acc = (model(torch.from_numpy(images)).argmax(1).numpy() == is_day).mean()
print(f"accuracy with running statistics: {acc:.3f}")
