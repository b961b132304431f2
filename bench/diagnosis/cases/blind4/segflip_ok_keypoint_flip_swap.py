# source: flip_pairs handling in HRNet / mmpose data pipelines (horizontal flip must mirror x and swap left/right joints) and https://github.com/albumentations-team/albumentations/issues/1056 ; photometric jitter applied to the image only
# expect: healthy
# category: vision
# bug: none - the horizontal flip mirrors the keypoint x coordinates (x -> W-1-x) and swaps the left/right eye indices, and the brightness/contrast/noise jitter is applied to the image alone because it moves no geometry
import random
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import Dataset, DataLoader

random.seed(60)
np.random.seed(60)
torch.manual_seed(60)

S = 32
KP_NAMES = ["left_eye", "right_eye", "mouth"]
FLIP_PAIRS = [(0, 1)]


def upright_face(rng):
    yy, xx = np.mgrid[0:S, 0:S].astype(np.float32)
    cx, cy = rng.uniform(10, 22), rng.uniform(10, 22)
    eye_dx, eye_dy = rng.uniform(3.5, 5.5), rng.uniform(2.5, 4.0)
    tilt = rng.uniform(-0.25, 0.25)
    le = (cx - eye_dx, cy - eye_dy + tilt * eye_dx)      # left in the image
    re = (cx + eye_dx, cy - eye_dy - tilt * eye_dx)
    mo = (cx + rng.uniform(-1, 1), cy + rng.uniform(3.5, 5.5))
    img = 0.3 * (((xx - cx) / 9.0) ** 2 + ((yy - cy) / 11.0) ** 2 <= 1).astype(np.float32)
    for (px, py), amp, w in ((le, 1.0, 1.3), (re, 1.0, 1.3), (mo, 0.8, 2.0)):
        img += amp * np.exp(-((xx - px) ** 2 + (yy - py) ** 2) / (2 * w * w))
    return img[None], np.array([le, re, mo], np.float32)


class FaceKeypoints(Dataset):
    def __init__(self, n, seed, train=True):
        rng = np.random.RandomState(seed)
        data = [upright_face(rng) for _ in range(n)]
        self.imgs = np.stack([d[0] for d in data])
        self.kps = np.stack([d[1] for d in data])
        self.train = train

    def __len__(self):
        return len(self.kps)

    def __getitem__(self, i):
        img = torch.from_numpy(self.imgs[i]).clone()
        kps = torch.from_numpy(self.kps[i]).clone()
        if self.train:
            if random.random() < 0.5:
                img = torch.flip(img, dims=[-1])
                kps[:, 0] = (S - 1) - kps[:, 0]
                for a, b in FLIP_PAIRS:
                    kps[[a, b]] = kps[[b, a]]
            # photometric jitter: image only
            img = img * random.uniform(0.7, 1.3) + random.uniform(-0.1, 0.1)
            img = img + 0.05 * torch.randn_like(img)
        return img, (kps + 0.5) / (S / 2) - 1.0


class SoftArgmaxNet(nn.Module):
    def __init__(self, c=16, k=len(KP_NAMES)):
        super().__init__()
        self.k = k
        self.body = nn.Sequential(
            nn.Conv2d(1, c, 3, padding=1), nn.ReLU(),
            nn.Conv2d(c, c, 3, padding=2, dilation=2), nn.ReLU(),
            nn.Conv2d(c, c, 3, padding=4, dilation=4), nn.ReLU(),
            nn.Conv2d(c, k, 1),
        )
        lin = (torch.arange(S).float() + 0.5) / (S / 2) - 1.0
        self.register_buffer("gx", lin.view(1, 1, 1, S))
        self.register_buffer("gy", lin.view(1, 1, S, 1))

    def forward(self, x):
        hm = self.body(x)
        B = hm.size(0)
        p = torch.softmax(hm.flatten(2), -1).view(B, self.k, S, S)
        return torch.stack([(p * self.gx).sum((2, 3)), (p * self.gy).sum((2, 3))], -1)   # (B, K, 2)


train_dl = DataLoader(FaceKeypoints(1200, 0, train=True), batch_size=32, shuffle=True)
val = FaceKeypoints(300, 1, train=False)
vx = torch.from_numpy(val.imgs)
vk = torch.from_numpy(val.kps)

net = SoftArgmaxNet()
opt = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=1e-4)

for epoch in range(5):
    net.train()
    ls = []
    for img, kp in train_dl:
        loss = F.mse_loss(net(img), kp)
        opt.zero_grad()
        loss.backward()
        opt.step()
        ls.append(loss.item())
    net.eval()
    with torch.no_grad():
        pred = (net(vx) + 1.0) * (S / 2) - 0.5
        err = (pred - vk).norm(dim=-1).mean(0)
    print(f"epoch {epoch}  train mse {np.mean(ls):.5f}  val px error " +
          "  ".join(f"{n} {e:.2f}" for n, e in zip(KP_NAMES, err.tolist())))
