# source: https://github.com/pytorch/pytorch/issues/34535
# expect: graph-break
# category: vision
# bug: the forward runs a numpy clip/normalise on the stem's feature map (h.detach().numpy() ... torch.from_numpy), so the conv stem never learns
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(17)
np.random.seed(17)


def make_images(n):
    """NHWC 16x16x3 images; class = orientation of a faint stripe pattern (4 classes)."""
    yy, xx = np.meshgrid(np.arange(16), np.arange(16), indexing="ij")
    labels = np.random.randint(0, 4, n)
    angles = labels * np.pi / 4
    imgs = np.empty((n, 16, 16, 3), dtype=np.float32)
    for i, a in enumerate(angles):
        wave = np.sin(0.9 * (np.cos(a) * xx + np.sin(a) * yy) + np.random.rand() * 6.28)
        imgs[i] = (0.4 * wave)[..., None] + 0.5 * np.random.randn(16, 16, 3)
    return torch.from_numpy(imgs), torch.from_numpy(labels)


class StripeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 5, padding=2)
        self.block = nn.Sequential(nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1))
        self.fc = nn.Linear(16, 4)

    def forward(self, x_nhwc):
        h = self.stem(x_nhwc.permute(0, 3, 1, 2))
        arr = h.detach().cpu().numpy()
        arr = np.clip(arr, 0.0, 6.0) / 6.0
        h = torch.from_numpy(arr)
        return self.fc(self.block(h).flatten(1))


train_x, train_y = make_images(1024)
model = StripeNet()
optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)

step = 0
for epoch in range(6):
    perm = torch.randperm(len(train_x))
    for i in range(0, len(train_x), 32):
        idx = perm[i:i + 32]
        logits = model(train_x[idx])
        loss = F.cross_entropy(logits, train_y[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 40 == 0:
            acc = (logits.argmax(1) == train_y[idx]).float().mean().item()
            print(f"step {step:3d}  loss {loss.item():.4f}  batch acc {acc:.2f}")
        step += 1
with torch.no_grad():
    acc = (model(train_x).argmax(1) == train_y).float().mean().item()
print(f"final loss {loss.item():.4f}  train acc {acc:.3f}")
