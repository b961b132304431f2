# source: Kendall, Gal & Cipolla, CVPR 2018 "Multi-task learning using uncertainty to weigh losses" (naive equal-weight sums fail when one task's loss is in large physical units) and https://www.systemoverflow.com/learn/ml-cv-systems/multi-task-learning-cv/loss-balancing-and-gradient-interference; here a classify+localise CNN with centre targets left in pixels
# expect: loss-imbalance, unnormalized-targets
# category: multi-loss
# bug: the centre-regression target is in raw pixels (0..32, MSE in the hundreds) and is summed with the shape cross-entropy at equal weight, so the shared conv trunk is trained almost only for localisation and the shape classifier learns far worse
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import Dataset, DataLoader

np.random.seed(5)
torch.manual_seed(5)

IMG = 32
SHAPES = ["disk", "square", "ring", "cross"]
LOSS_W = {"cls": 1.0, "loc": 1.0}


def draw(shape, cx, cy, r, yy, xx):
    dx, dy = xx - cx, yy - cy
    if shape == "disk":
        return (dx ** 2 + dy ** 2 <= r ** 2)
    if shape == "square":
        return (np.abs(dx) <= r * 0.85) & (np.abs(dy) <= r * 0.85)
    if shape == "ring":
        d = np.sqrt(dx ** 2 + dy ** 2)
        return (d <= r) & (d >= r * 0.55)
    return ((np.abs(dx) <= r * 0.3) & (np.abs(dy) <= r)) | ((np.abs(dy) <= r * 0.3) & (np.abs(dx) <= r))


class ShapeScenes(Dataset):
    def __init__(self, n, seed):
        rng = np.random.RandomState(seed)
        yy, xx = np.mgrid[0:IMG, 0:IMG].astype(np.float32)
        self.images = np.zeros((n, 1, IMG, IMG), np.float32)
        self.labels = rng.randint(0, len(SHAPES), n)
        self.centers = np.zeros((n, 2), np.float32)
        for k in range(n):
            r = rng.uniform(3.5, 6.5)
            cx, cy = rng.uniform(r + 1, IMG - r - 1, 2)
            m = draw(SHAPES[self.labels[k]], cx, cy, r, yy, xx)
            self.images[k, 0] = m * rng.uniform(0.6, 1.0) + rng.randn(IMG, IMG) * 0.15
            self.centers[k] = (cx, cy)

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, k):
        return (torch.from_numpy(self.images[k]), int(self.labels[k]),
                torch.from_numpy(self.centers[k]))


class LocNet(nn.Module):
    def __init__(self, n_cls=len(SHAPES)):
        super().__init__()
        self.trunk = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),   # 16
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 8
            nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 4
            nn.Flatten(),
            nn.Linear(32 * 4 * 4, 96), nn.ReLU(),
        )
        self.cls_head = nn.Linear(96, n_cls)
        self.loc_head = nn.Linear(96, 2)

    def forward(self, x):
        h = self.trunk(x)
        return self.cls_head(h), self.loc_head(h)


train_dl = DataLoader(ShapeScenes(2500, 0), batch_size=64, shuffle=True)
val_ds = ShapeScenes(500, 1)
val_x = torch.from_numpy(val_ds.images)
val_y = torch.from_numpy(val_ds.labels)
val_c = torch.from_numpy(val_ds.centers)

net = LocNet()
opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-4)

for epoch in range(6):
    net.train()
    for it, (x, y, c) in enumerate(train_dl):
        logits, xy = net(x)
        l_cls = F.cross_entropy(logits, y)
        l_loc = F.mse_loss(xy, c)
        loss = LOSS_W["cls"] * l_cls + LOSS_W["loc"] * l_loc
        opt.zero_grad()
        loss.backward()
        opt.step()
        if it % 20 == 0:
            print(f"ep {epoch} it {it:3d}  loss {loss.item():8.3f}  cls {l_cls.item():.3f}  loc {l_loc.item():8.3f}")
    net.eval()
    with torch.no_grad():
        lg, xy = net(val_x)
        acc = (lg.argmax(1) == val_y).float().mean().item()
        err = (xy - val_c).norm(dim=1).mean().item()
    print(f"== epoch {epoch}: val shape acc {acc:.3f}   val centre error {err:.2f}px")
