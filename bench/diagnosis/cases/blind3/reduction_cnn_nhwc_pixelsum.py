# source: https://github.com/shubham-goel/4D-Humans/issues/85
# expect: lr-too-high, loss-divergence, exploding-gradients, nonfinite-forward
# category: vision
# bug: the reconstruction loss sums over every pixel and channel of each image (then averages over the batch), so SGD's step is H*W*C = 768x what the lr assumed
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import Dataset, DataLoader

torch.manual_seed(2)


class NoisyPatches(Dataset):
    """Images stored channels-last (H, W, C) like they come out of an image library."""
    def __init__(self, n=1024, size=16):
        yy, xx = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(-1, 1, size), indexing="ij")
        imgs = []
        for _ in range(n):
            a, b, c = torch.rand(3) * 3
            r = torch.sin(a * xx + b * yy)
            g = torch.cos(b * xx - c * yy)
            bl = torch.sin(c * (xx + yy))
            imgs.append(torch.stack([r, g, bl], dim=-1) * 0.5 + 0.5)
        self.clean = torch.stack(imgs)

    def __len__(self):
        return len(self.clean)

    def __getitem__(self, i):
        clean = self.clean[i]
        noisy = clean + 0.2 * torch.randn_like(clean)
        return noisy, clean


class Denoiser(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 16, 3, padding=1)
        self.c2 = nn.Conv2d(16, 16, 3, padding=1)
        self.c3 = nn.Conv2d(16, 3, 3, padding=1)

    def forward(self, x_nhwc):
        x = x_nhwc.permute(0, 3, 1, 2)
        h = F.relu(self.c1(x))
        h = F.relu(self.c2(h))
        out = self.c3(h)
        return out.permute(0, 2, 3, 1)


def recon_loss(pred, target):
    per_image = ((pred - target) ** 2).sum(dim=(1, 2, 3))
    return per_image.mean()


loader = DataLoader(NoisyPatches(), batch_size=32, shuffle=True)
net = Denoiser()
optimizer = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)

step = 0
for epoch in range(8):
    for noisy, clean in loader:
        loss = recon_loss(net(noisy), clean)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        step += 1
        if step == 1 or step % 25 == 0:
            print(f"epoch {epoch} step {step} loss {loss.item():.4f}")
