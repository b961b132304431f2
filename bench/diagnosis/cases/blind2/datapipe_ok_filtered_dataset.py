# source: https://github.com/lucidrains/DALLE-pytorch/pull/194
# expect: healthy
# category: vision
# bug: healthy - the Dataset drops undecodable images by an index list and looks up both the image and the label through that same list
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import Dataset, DataLoader

torch.manual_seed(44)


def blobs(labels):
    n = len(labels)
    xs = torch.linspace(-1, 1, 14)
    gy, gx = torch.meshgrid(xs, xs, indexing="ij")
    # class = which quadrant holds the blob
    cx = torch.where(labels % 2 == 0, -0.5, 0.5) + 0.3 * torch.randn(n)
    cy = torch.where(labels < 2, -0.5, 0.5) + 0.3 * torch.randn(n)
    img = torch.exp(-((gx - cx[:, None, None]) ** 2 + (gy - cy[:, None, None]) ** 2) / 0.08)
    return (img + 0.9 * torch.randn_like(img)).unsqueeze(1)


class QuadrantImages(Dataset):
    def __init__(self, n=1400):
        self.targets = torch.randint(0, 4, (n,))
        self.pixels = blobs(self.targets)
        broken = torch.rand(n) < 0.1
        self.pixels[broken] = float("nan")
        self.valid = [i for i in range(n) if torch.isfinite(self.pixels[i]).all()]

    def __len__(self):
        return len(self.valid)

    def __getitem__(self, idx):
        j = self.valid[idx]
        return self.pixels[j], self.targets[j]


net = nn.Sequential(
    nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(), nn.Linear(16 * 3 * 3, 4),
)
loader = DataLoader(QuadrantImages(), batch_size=32, shuffle=True)
opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)

it = 0
for epoch in range(7):
    for x, y in loader:
        loss = F.cross_entropy(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if it % 40 == 0:
            print(f"epoch {epoch} iter {it} loss {loss.item():.4f}")
        it += 1
print("final loss", loss.item())
