# source: https://github.com/aleju/imgaug/issues/46 ("Rotate Affine augment Keypoints": a different rotation reached the image and the landmarks) and https://github.com/keras-team/keras-preprocessing/pull/132 (image generators transform images but not landmarks)
# expect: targets-displaced
# category: vision
# bug: the training Dataset rotates each face crop by a random multiple of 90 degrees (torch.rot90) but returns the original, un-rotated landmark coordinates, so in 3 of 4 samples the targets no longer sit on the facial features; the integral-regression model is pulled toward the image centre and its validation error stays high
import math
import random
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import Dataset, DataLoader

random.seed(14)
np.random.seed(14)
torch.manual_seed(14)

S = 32
N_LM = 3   # left eye, right eye, mouth


def render_face(rng):
    """Face crop with randomly posed landmarks (bright eye, wide cheek mark, dark nostril) and no fixed orientation."""
    yy, xx = np.mgrid[0:S, 0:S].astype(np.float32)
    cx, cy = rng.uniform(10, 22, 2)
    th = rng.uniform(-math.pi, math.pi)
    img = 0.1 * rng.randn(S, S).astype(np.float32)
    u = (xx - cx) * math.cos(th) + (yy - cy) * math.sin(th)
    v = -(xx - cx) * math.sin(th) + (yy - cy) * math.cos(th)
    img += 0.3 * ((u / 8.0) ** 2 + (v / 10.0) ** 2 <= 1)
    pts = []
    for amp, w in ((1.2, 1.2), (0.7, 2.2), (-0.8, 1.5)):   # eye (small, bright), cheek mark (wide), nostril (dark)
        r, a = rng.uniform(2, 7), rng.uniform(0, 2 * math.pi)
        px, py = cx + r * math.cos(a), cy + r * math.sin(a)
        img += amp * np.exp(-((xx - px) ** 2 + (yy - py) ** 2) / (2 * w * w))
        pts.append((px, py))
    return img, np.array(pts, np.float32)


def random_rot90(img):
    """Faces in these crops have no canonical orientation: rotate by a random multiple of 90 degrees."""
    k = random.randint(0, 3)
    return torch.rot90(img, k, dims=(-2, -1))


class FaceLandmarks(Dataset):
    def __init__(self, n, seed, train=True):
        rng = np.random.RandomState(seed)
        faces = [render_face(rng) for _ in range(n)]
        self.imgs = np.stack([f[0] for f in faces])[:, None]
        self.pts = np.stack([f[1] for f in faces])
        self.train = train

    def __len__(self):
        return len(self.pts)

    def __getitem__(self, i):
        img = torch.from_numpy(self.imgs[i])
        pts = torch.from_numpy(self.pts[i])
        if self.train:
            img = random_rot90(img)
            if random.random() < 0.5:
                img = img * random.uniform(0.8, 1.2)
        target = (pts + 0.5) / (S / 2) - 1.0            # normalised to [-1, 1]
        return img, target.reshape(-1)


class ResBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c1 = nn.Conv2d(c, c, 3, padding=1)
        self.b1 = nn.BatchNorm2d(c)
        self.c2 = nn.Conv2d(c, c, 3, padding=1)
        self.b2 = nn.BatchNorm2d(c)

    def forward(self, x):
        return F.relu(x + self.b2(self.c2(F.relu(self.b1(self.c1(x))))))


class LandmarkNet(nn.Module):
    """Integral regression: K heatmaps -> spatial softmax -> expected (x, y) in [-1, 1]."""

    def __init__(self, c=12):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU(),
            ResBlock(c),
            nn.Conv2d(c, N_LM, 1),
        )
        lin = (torch.arange(S).float() + 0.5) / (S / 2) - 1.0
        self.register_buffer("gx", lin.view(1, 1, 1, S))
        self.register_buffer("gy", lin.view(1, 1, S, 1))

    def forward(self, x):
        hm = self.body(x)
        B = hm.size(0)
        prob = torch.softmax(hm.view(B, N_LM, -1), dim=-1).view(B, N_LM, S, S)
        px = (prob * self.gx).sum((2, 3))
        py = (prob * self.gy).sum((2, 3))
        return torch.stack([px, py], dim=-1).view(B, -1)


train_dl = DataLoader(FaceLandmarks(1200, 0, train=True), batch_size=32, shuffle=True)
val_ds = FaceLandmarks(300, 1, train=False)
val_x = torch.from_numpy(val_ds.imgs)
val_t = torch.from_numpy(val_ds.pts)

net = LandmarkNet()
opt = torch.optim.Adam(net.parameters(), lr=2e-3)
sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=5)

for epoch in range(5):
    net.train()
    losses = []
    for img, tgt in train_dl:
        loss = F.mse_loss(net(img), tgt)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    sched.step()
    net.eval()
    with torch.no_grad():
        pred = (net(val_x).view(-1, N_LM, 2) + 1.0) * (S / 2) - 0.5
        err = (pred - val_t).norm(dim=-1).mean().item()
    print(f"epoch {epoch}  train loss {np.mean(losses):.4f}  val landmark error {err:.2f}px")
