# source: https://github.com/Lightning-Universe/lightning-bolts/issues/320
# expect: nonfinite-forward
# category: vision
# bug: contrastive (InfoNCE) loss written as -log(exp(s_pos/t) / sum(exp(s/t))) on unnormalised projections with t=0.05; the similarities grow, exp overflows to inf and inf/inf gives NaN
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(11)

# unlabeled 16x16 "sensor patches": random smooth blobs
def make_images(n):
    xs = torch.linspace(-1, 1, 16)
    gy, gx = torch.meshgrid(xs, xs, indexing="ij")
    cx, cy = torch.rand(n, 1, 1) * 2 - 1, torch.rand(n, 1, 1) * 2 - 1
    w = torch.rand(n, 1, 1) * 0.3 + 0.1
    img = torch.exp(-((gx - cx) ** 2 + (gy - cy) ** 2) / w)
    return img.unsqueeze(1)


pool = make_images(1024)


def augment(x):
    gain = 1 + 0.05 * torch.randn(x.shape[0], 1, 1, 1)
    return gain * x + 0.02 * torch.randn_like(x)


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.proj = nn.Sequential(nn.Linear(32 * 16, 128), nn.ReLU(), nn.Linear(128, 64))

    def forward(self, x):
        return self.proj(self.features(x).flatten(1))


def info_nce(z1, z2, temperature=0.05):
    sim = z1 @ z2.t() / temperature
    num = torch.exp(torch.diag(sim))
    den = torch.exp(sim).sum(dim=1)
    return -torch.log(num / den).mean()


enc = Encoder()
opt = torch.optim.Adam(enc.parameters(), lr=3e-3)

for step in range(250):
    idx = torch.randint(0, len(pool), (64,))
    batch = pool[idx]
    z1, z2 = enc(augment(batch)), enc(augment(batch))
    loss = info_nce(z1, z2)
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 10 == 0:
        print(f"step {step:3d}  nce {loss.item():.4f}")
print("done, final", loss.item())
