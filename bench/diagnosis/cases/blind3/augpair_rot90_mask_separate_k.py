# source: https://github.com/bigmb/Unet-Segmentation-Pytorch-Nest-of-Unets/pull/30
# expect: targets-displaced, labels-decoupled
# category: vision
# bug: a transform object that rotates by a random multiple of 90 degrees is called on the image and then on the mask, each call drawing its own k, so image and mask usually end up rotated differently
import random
import torch
import torch.nn as nn
import torch.nn.functional as F

random.seed(3)
torch.manual_seed(3)


class RandomRot90:
    def __call__(self, x):
        k = random.randint(0, 3)
        return torch.rot90(x, k, dims=(-2, -1))


class Compose:
    def __init__(self, ts):
        self.ts = ts

    def __call__(self, x):
        for t in self.ts:
            x = t(x)
        return x


class AddNoise:
    def __call__(self, x):
        return x + 0.05 * torch.randn_like(x) if x.is_floating_point() else x


train_tf = Compose([RandomRot90(), AddNoise()])


def cells(n, s=16):
    imgs = torch.zeros(n, 1, s, s)
    masks = torch.zeros(n, s, s, dtype=torch.long)
    for i in range(n):
        for _ in range(random.randint(1, 3)):
            r = random.randint(2, 3)
            cy, cx = random.randint(r, s // 2), random.randint(r, s - 1 - r)  # cells sit in the top half
            yy, xx = torch.meshgrid(torch.arange(s), torch.arange(s), indexing="ij")
            blob = ((yy - cy) ** 2 + (xx - cx) ** 2) <= r * r
            imgs[i, 0][blob] = 1.0
            masks[i][blob] = 1
    return imgs, masks


images, masks = cells(300)


class Seg(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 16, 3, padding=1)
        self.c2 = nn.Conv2d(16, 16, 3, padding=2, dilation=2)
        self.c3 = nn.Conv2d(16, 1, 1)

    def forward(self, x):
        return self.c3(F.relu(self.c2(F.relu(self.c1(x))))).squeeze(1)


net = Seg()
opt = torch.optim.Adam(net.parameters(), lr=3e-3)
for it in range(250):
    idx = random.sample(range(300), 16)
    x = torch.stack([train_tf(images[i]) for i in idx])
    y = torch.stack([train_tf(masks[i]) for i in idx]).float()
    loss = F.binary_cross_entropy_with_logits(net(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    if it % 50 == 0 or it == 249:
        print(f"it {it} bce {loss.item():.4f}")
