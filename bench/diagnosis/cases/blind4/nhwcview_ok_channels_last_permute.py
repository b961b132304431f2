# source: PyTorch tutorial "(beta) Channels Last Memory Format in PyTorch" (logical NCHW shape, NHWC strides) and https://errorhandle.ai/what-is-the-correct-way-to-change-image-channel-ordering-between-channels-first-and-channels-last (HWC -> CHW with permute)
# expect: healthy
# category: vision
# bug: none - NHWC numpy tiles are converted with permute(0, 3, 1, 2) (a real axis reorder) and then stored in channels_last memory format; the logical shape is NCHW so Conv2d sees correct images, and the later .reshape flattens features, not pixels
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

np.random.seed(6)
torch.manual_seed(6)

TILE = 28
LAND = ["water", "forest", "field", "urban"]


def make_tiles(n, rng):
    """Satellite-like RGB tiles stored NHWC uint8, as they come out of a GeoTIFF reader."""
    tiles = np.zeros((n, TILE, TILE, 3), np.uint8)
    labels = rng.randint(0, len(LAND), n)
    yy, xx = np.mgrid[0:TILE, 0:TILE]
    for k, c in enumerate(labels):
        noise = rng.randn(TILE, TILE, 3) * 12
        if c == 0:
            base = np.array([30, 60, 120]) + 10 * np.sin(xx / 3.0 + rng.uniform(0, 6))[..., None]
        elif c == 1:
            base = np.array([40, 90, 40]) + rng.randn(TILE, TILE, 1) * 25
        elif c == 2:
            stripes = ((xx + yy * rng.choice([0, 1])) // 4) % 2
            base = np.array([150, 140, 60]) + 40 * stripes[..., None]
        else:
            grid = ((xx % 7 < 2) | (yy % 7 < 2)).astype(float)
            base = np.array([120, 120, 125]) + 60 * grid[..., None]
        tiles[k] = np.clip(base + noise, 0, 255).astype(np.uint8)
    return tiles, labels


def to_model_input(batch_nhwc):
    x = torch.from_numpy(batch_nhwc).float().div(255.0)
    x = x.permute(0, 3, 1, 2)                                  # NHWC -> NCHW (logical)
    x = (x - 0.45) / 0.25
    return x.contiguous(memory_format=torch.channels_last)     # NHWC in memory for speed


class TileNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.conv3 = nn.Conv2d(32, 32, 3, padding=1)
        self.fc = nn.Linear(32 * 3 * 3, len(LAND))

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)     # 14
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)     # 7
        x = F.max_pool2d(F.relu(self.conv3(x)), 2)     # 3
        return self.fc(x.reshape(x.size(0), -1))


rng = np.random.RandomState(0)
tr_x, tr_y = make_tiles(1500, rng)
te_x, te_y = make_tiles(400, rng)
tr_yt, te_yt = torch.from_numpy(tr_y), torch.from_numpy(te_y)

model = TileNet().to(memory_format=torch.channels_last)
opt = torch.optim.SGD(model.parameters(), lr=0.03, momentum=0.9)

for epoch in range(5):
    model.train()
    perm = np.random.permutation(len(tr_x))
    for i in range(0, len(perm), 50):
        idx = perm[i:i + 50]
        loss = F.cross_entropy(model(to_model_input(tr_x[idx])), tr_yt[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if (i // 50) % 10 == 0:
            print(f"epoch {epoch} batch {i // 50:2d}  loss {loss.item():.4f}")
    model.eval()
    with torch.no_grad():
        acc = (model(to_model_input(te_x)).argmax(1) == te_yt).float().mean().item()
    print(f"epoch {epoch}  test acc {acc:.3f}")
