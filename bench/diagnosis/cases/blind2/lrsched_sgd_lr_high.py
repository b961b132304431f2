# source: https://github.com/amdegroot/ssd.pytorch/issues/275
# expect: lr-too-high
# category: vision
# bug: plain SGD with lr=2.0 (and momentum 0.9) on a small CNN: the first steps overshoot, the ReLU units die and the loss never gets below chance (ln 4)
import torch
import torch.nn as nn

torch.manual_seed(22)

N_CLASSES = 4
# 2x16x16 "radar" patches, class = which quadrant holds the blob
def make_patches(n):
    x = 0.2 * torch.randn(n, 2, 16, 16)
    y = torch.randint(0, N_CLASSES, (n,))
    for i in range(n):
        r = 2 + 8 * (y[i] // 2)
        c = 2 + 8 * (y[i] % 2)
        x[i, :, r:r + 4, c:c + 4] += 1.0
    return x, y


x_train, y_train = make_patches(1024)

model = nn.Sequential(
    nn.Conv2d(2, 16, 3, padding=1), nn.ReLU(),
    nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(), nn.Linear(16 * 8 * 8, 64), nn.ReLU(), nn.Linear(64, N_CLASSES),
)
optimizer = torch.optim.SGD(model.parameters(), lr=2.0, momentum=0.9)
criterion = nn.CrossEntropyLoss()

for it in range(200):
    idx = torch.randint(0, len(x_train), (32,))
    out = model(x_train[idx])
    loss = criterion(out, y_train[idx])
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if it % 10 == 0:
        print(f"iter {it:3d}  loss {loss.item():.4f}")
