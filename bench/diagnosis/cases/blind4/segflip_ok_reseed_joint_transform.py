# source: https://github.com/albumentations-team/albumentations/issues/397 and the long-standing torchvision workaround "seed = np.random.randint(2147483647); random.seed(seed); img = t(img); random.seed(seed); mask = t(mask)" to give image and mask the same random transform
# expect: healthy
# category: vision
# bug: none - the random flip/shift transform is called separately for the image and the mask, which looks like two independent draws, but the RNG is re-seeded with the same seed before each call, so both receive identical flips and shifts and stay aligned
import random
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import Dataset, DataLoader

random.seed(50)
np.random.seed(50)
torch.manual_seed(50)

S = 32


class RandomFlipShift:
    """Random h/v flip and a random integer shift (with zero fill), driven by python's `random`."""

    def __init__(self, max_shift=4):
        self.max_shift = max_shift

    def __call__(self, t):
        if random.random() < 0.5:
            t = torch.flip(t, dims=[-1])
        if random.random() < 0.5:
            t = torch.flip(t, dims=[-2])
        dy = random.randint(-self.max_shift, self.max_shift)
        dx = random.randint(-self.max_shift, self.max_shift)
        out = torch.zeros_like(t)
        ys, yd = (slice(0, S - dy), slice(dy, S)) if dy >= 0 else (slice(-dy, S), slice(0, S + dy))
        xs, xd = (slice(0, S - dx), slice(dx, S)) if dx >= 0 else (slice(-dx, S), slice(0, S + dx))
        out[..., yd, xd] = t[..., ys, xs]
        return out


def crack_scene(rng):
    """Concrete texture with one or two thin cracks (random polyline)."""
    img = 0.5 + 0.12 * rng.randn(S, S)
    mask = np.zeros((S, S), np.int64)
    for _ in range(rng.randint(1, 3)):
        x, y = rng.uniform(0, S, 2)
        ang = rng.uniform(0, 2 * np.pi)
        for _ in range(40):
            ang += rng.uniform(-0.4, 0.4)
            x, y = x + np.cos(ang), y + np.sin(ang)
            xi, yi = int(x), int(y)
            if 0 <= xi < S and 0 <= yi < S:
                img[yi, xi] -= 0.35
                mask[yi, xi] = 1
    return img.astype(np.float32)[None], mask


class CrackDataset(Dataset):
    def __init__(self, n, seed, transform=None):
        rng = np.random.RandomState(seed)
        data = [crack_scene(rng) for _ in range(n)]
        self.imgs = np.stack([d[0] for d in data])
        self.masks = np.stack([d[1] for d in data])
        self.transform = transform

    def __len__(self):
        return len(self.masks)

    def __getitem__(self, i):
        img = torch.from_numpy(self.imgs[i])
        mask = torch.from_numpy(self.masks[i])
        if self.transform is not None:
            seed = random.randint(0, 2 ** 31 - 1)
            random.seed(seed)
            img = self.transform(img)
            random.seed(seed)
            mask = self.transform(mask)
        return img, mask


class DilatedFCN(nn.Module):
    def __init__(self, c=16):
        super().__init__()
        layers, cin = [], 1
        for d in (1, 2, 4, 1):
            layers += [nn.Conv2d(cin, c, 3, padding=d, dilation=d), nn.BatchNorm2d(c), nn.ReLU()]
            cin = c
        self.body = nn.Sequential(*layers)
        self.out = nn.Conv2d(c, 1, 1)

    def forward(self, x):
        return self.out(self.body(x)).squeeze(1)


train_dl = DataLoader(CrackDataset(640, 0, transform=RandomFlipShift()), batch_size=32, shuffle=True)
val = CrackDataset(200, 1)
vx, vm = torch.from_numpy(val.imgs), torch.from_numpy(val.masks).float()

model = DilatedFCN()
opt = torch.optim.RMSprop(model.parameters(), lr=1e-3)
pos_w = torch.tensor(5.0)

for epoch in range(5):
    model.train()
    for it, (img, mask) in enumerate(train_dl):
        loss = F.binary_cross_entropy_with_logits(model(img), mask.float(), pos_weight=pos_w)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if it % 10 == 0:
            print(f"epoch {epoch} it {it:2d}  bce {loss.item():.4f}")
    model.eval()
    with torch.no_grad():
        pred = (model(vx) > 0).float()
        tp = (pred * vm).sum().item()
        f1 = 2 * tp / (pred.sum().item() + vm.sum().item())
    print(f"epoch {epoch}  val crack-pixel F1 {f1:.3f}")
