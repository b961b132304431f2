# source: https://github.com/aleju/imgaug/issues/769
# expect: labels-decoupled, targets-displaced
# category: regression
# bug: the batch augmentation mirrors the images left-right but leaves the keypoint's x coordinate as it was, so the regressor is taught the unflipped position for flipped images
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(31)
S = 20


def render(n):
    """A bright gaussian spot on a noisy background; the target is its (x, y) in [0, 1]."""
    xy = torch.rand(n, 2) * 0.8 + 0.1
    grid = torch.linspace(0, 1, S)
    gy, gx = torch.meshgrid(grid, grid, indexing="ij")
    d2 = (gx[None] - xy[:, 0, None, None]) ** 2 + (gy[None] - xy[:, 1, None, None]) ** 2
    img = torch.exp(-d2 / 0.004) + 0.1 * torch.randn(n, S, S)
    return img.unsqueeze(1), xy


def augment_batch(images, keypoints, p=0.5):
    flip = torch.rand(images.size(0)) < p
    images = images.clone()
    images[flip] = images[flip].flip(-1)
    return images, keypoints


class KeypointNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(32 * 5 * 5, 64), nn.ReLU(), nn.Linear(64, 2))

    def forward(self, x):
        return self.head(self.features(x))


images, kps = render(1024)
net = KeypointNet()
opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=1e-4)

for step in range(300):
    idx = torch.randint(0, 1024, (32,))
    xb, yb = augment_batch(images[idx], kps[idx])
    pred = net(xb)
    loss = F.mse_loss(pred, yb)
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 50 == 0 or step == 299:
        print(f"step {step:3d} mse {loss.item():.5f}")
