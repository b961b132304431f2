# source: https://github.com/DeepLabCut/DeepLabCut/pull/1805
# expect: healthy
# category: regression
# bug: none: the training loop mirrors half of each batch left-right and mirrors those keypoints' x coordinates (x -> 1 - x) with the same mask
import torch
import torch.nn as nn

torch.manual_seed(0)
SIZE = 20


def synth(n):
    """Grayscale frames with one bright marker; target = its (x, y) in [0, 1]."""
    xy = torch.rand(n, 2) * 0.8 + 0.1
    grid = torch.linspace(0, 1, SIZE)
    gy, gx = torch.meshgrid(grid, grid, indexing="ij")
    d2 = (gx[None] - xy[:, 0, None, None]) ** 2 + (gy[None] - xy[:, 1, None, None]) ** 2
    frames = torch.exp(-d2 / 0.004) + 0.05 * torch.randn(n, SIZE, SIZE)
    return frames.unsqueeze(1), xy


images, keypoints = synth(3000)

net = nn.Sequential(
    nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(), nn.Linear(32 * 5 * 5, 64), nn.ReLU(), nn.Linear(64, 2),
)
opt = torch.optim.Adam(net.parameters(), lr=1e-3)
crit = nn.MSELoss()

batch_size = 50
for it in range(360):
    idx = torch.randint(0, len(images), (batch_size,))
    x, kp = images[idx].clone(), keypoints[idx].clone()
    flip = torch.rand(batch_size) < 0.5
    x[flip] = x[flip].flip(-1)
    kp[flip, 0] = 1.0 - kp[flip, 0]
    pred = net(x)
    loss = crit(pred, kp)
    opt.zero_grad()
    loss.backward()
    opt.step()
    if it % 40 == 0 or it == 359:
        with torch.no_grad():
            px_err = (pred - kp).abs().mean(0) * SIZE
        print(f"it {it:3d} mse {loss.item():.5f} mean abs err px x={px_err[0]:.2f} y={px_err[1]:.2f}")
