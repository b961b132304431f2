# source: https://github.com/jiwei0921/CoNet/issues/3
# expect: broadcast-loss
# category: vision
# bug: the per-image target is unsqueezed on the wrong side, (1,B) against the CNN's (B,1) output, so SmoothL1Loss compares every image with every target
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(3)
N, H, W = 1200, 16, 16
imgs = torch.zeros(N, H, W, 3)
counts = torch.randint(0, 6, (N,))
for i in range(N):
    for _ in range(int(counts[i])):
        r, c = torch.randint(0, H - 3, (2,)).tolist()
        imgs[i, r:r + 3, c:c + 3, :] += 1.0
imgs += 0.1 * torch.randn_like(imgs)
targets = counts.float()


class Counter(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.fc = nn.Linear(32, 1)

    def forward(self, x):
        x = x.permute(0, 3, 1, 2)                 # NHWC -> NCHW
        x = F.relu(self.conv1(x))
        x = F.max_pool2d(x, 2)
        x = F.relu(self.conv2(x))
        x = x.mean(dim=(2, 3))
        return self.fc(x)


net = Counter()
opt = torch.optim.Adam(net.parameters(), lr=2e-3)
batch = 32
for it in range(250):
    idx = torch.randint(0, N, (batch,))
    xb = imgs[idx]
    yb = targets[idx].unsqueeze(0)
    out = net(xb)
    loss = F.smooth_l1_loss(out, yb)
    opt.zero_grad()
    loss.backward()
    opt.step()
    if it % 25 == 0:
        print(f"it {it} loss {loss.item():.4f}")

with torch.no_grad():
    err = (net(imgs[:300]).squeeze(1) - targets[:300]).abs().mean().item()
print(f"mean abs count error {err:.3f}")
