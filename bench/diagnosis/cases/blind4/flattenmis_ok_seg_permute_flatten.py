# source: the standard answer to per-pixel CrossEntropyLoss questions for semantic segmentation (logits.permute(0, 2, 3, 1).reshape(-1, C) against mask.reshape(-1)); cf. the misuse discussed in https://github.com/vitrioil/Speech-Separation/issues/4 (view without permute mixes data)
# expect: healthy
# category: vision
# bug: none - the per-pixel logits are permuted to (N, H, W, C) before reshape(-1, C), so their flattening order matches mask.reshape(-1); this flattening looks like a classic misalignment spot but is correct
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

np.random.seed(2)
torch.manual_seed(2)

S = 24
N_CLASSES = 3   # 0 background, 1 disk, 2 rectangle


def scene(rng):
    yy, xx = np.mgrid[0:S, 0:S]
    img = rng.randn(3, S, S).astype(np.float32) * 0.2
    mask = np.zeros((S, S), np.int64)
    for _ in range(rng.randint(1, 4)):
        if rng.rand() < 0.5:
            cx, cy, r = rng.uniform(3, S - 3), rng.uniform(3, S - 3), rng.uniform(2.5, 5)
            m = (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r
            cls = 1
        else:
            x0, y0 = rng.randint(0, S - 6, 2)
            w, h = rng.randint(3, 8, 2)
            m = (xx >= x0) & (xx < x0 + w) & (yy >= y0) & (yy < y0 + h)
            cls = 2
        color = rng.uniform(0.3, 1.0, 3)[:, None]
        img[:, m] += color
        mask[m] = cls
    return img, mask


def dataset(n, seed):
    rng = np.random.RandomState(seed)
    imgs, masks = zip(*[scene(rng) for _ in range(n)])
    return torch.tensor(np.stack(imgs)), torch.tensor(np.stack(masks))


def block(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class TinySegNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc1 = block(3, 12)
        self.enc2 = block(12, 24)
        self.mid = block(24, 24)
        self.dec = block(24 + 12, 12)
        self.cls = nn.Conv2d(12, N_CLASSES, 1)

    def forward(self, x):
        e1 = self.enc1(x)
        e2 = self.enc2(F.max_pool2d(e1, 2))
        m = self.mid(e2)
        up = F.interpolate(m, scale_factor=2, mode="bilinear", align_corners=False)
        return self.cls(self.dec(torch.cat([up, e1], 1)))


def pixel_ce(logits, mask):
    n_cls = logits.shape[1]
    flat_logits = logits.permute(0, 2, 3, 1).reshape(-1, n_cls)
    return F.cross_entropy(flat_logits, mask.reshape(-1))


def mean_iou(pred, mask):
    ious = []
    for c in range(1, N_CLASSES):
        inter = ((pred == c) & (mask == c)).sum().item()
        union = ((pred == c) | (mask == c)).sum().item()
        if union:
            ious.append(inter / union)
    return float(np.mean(ious))


x_tr, m_tr = dataset(800, 0)
x_va, m_va = dataset(200, 1)
net = TinySegNet()
opt = torch.optim.Adam(net.parameters(), lr=3e-3)
sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=6)

for epoch in range(6):
    net.train()
    perm = torch.randperm(len(x_tr))
    for i, s in enumerate(range(0, len(perm), 32)):
        idx = perm[s:s + 32]
        loss = pixel_ce(net(x_tr[idx]), m_tr[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if i % 10 == 0:
            print(f"epoch {epoch} batch {i:2d}  pixel CE {loss.item():.4f}")
    sched.step()
    net.eval()
    with torch.no_grad():
        pred = net(x_va).argmax(1)
    print(f"epoch {epoch}  val mIoU (fg classes) {mean_iou(pred, m_va):.3f}")
