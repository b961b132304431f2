# source: https://github.com/xapharius/pytorch-nyuv2/issues/6
# expect: targets-displaced, labels-decoupled
# category: vision
# bug: the random crop draws its top-left corner once for the image and again for the depth target, so the two crops usually cover different windows
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(99)
FULL, CROP = 28, 20


def make_rgbd(n):
    # smooth "depth" and an image whose channels are simple functions of it
    depth = F.interpolate(torch.rand(n, 1, 7, 7), size=(FULL, FULL), mode="bilinear", align_corners=False)
    rgb = torch.cat([depth, 1 - depth, depth ** 2], 1) + 0.05 * torch.randn(n, 3, FULL, FULL)
    return rgb, depth


def random_crop(t, size):
    top = torch.randint(0, t.shape[-2] - size + 1, (1,)).item()
    left = torch.randint(0, t.shape[-1] - size + 1, (1,)).item()
    return t[..., top:top + size, left:left + size]


rgb_all, depth_all = make_rgbd(800)

model = nn.Sequential(
    nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(),
    nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(),
    nn.Conv2d(32, 1, 3, padding=1),
)
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

for i in range(250):
    batch = torch.randint(0, 800, (16,))
    rgb = torch.stack([random_crop(rgb_all[b], CROP) for b in batch])
    depth = torch.stack([random_crop(depth_all[b], CROP) for b in batch])
    pred = model(rgb)
    loss = F.l1_loss(pred, depth)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if i % 50 == 0 or i == 249:
        print("iter %d  l1 %.4f" % (i, loss.item()))
