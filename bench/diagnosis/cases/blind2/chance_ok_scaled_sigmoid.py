# source: https://stats.stackexchange.com/questions/233499/neural-networks-bounded-output
# expect: healthy
# category: vision
# bug: none; the blob-counting CNN ends in a sigmoid but its targets are min-max scaled into [0, 1] (count / 20) and rescaled only for reporting
import torch
import torch.nn as nn

torch.manual_seed(36)

S, MAX_COUNT = 20, 20


def draw(n):
    imgs = 0.1 * torch.randn(n, 1, S, S)
    counts = torch.randint(2, 21, (n,))
    for i in range(n):
        pos = torch.randint(0, S - 2, (int(counts[i]), 2))
        for r, c in pos.tolist():
            imgs[i, 0, r:r + 2, c:c + 2] = 1.0
    return imgs, counts.float()


images, counts = draw(400)
targets = counts / MAX_COUNT


class Counter(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(),
            nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(),
        )
        self.regressor = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 1), nn.Sigmoid())

    def forward(self, x):
        feats = self.conv(x).mean(dim=(2, 3))
        return self.regressor(feats).squeeze(1)


model = Counter()
optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
mse = nn.MSELoss()

for step in range(250):
    idx = torch.randint(0, len(images), (32,))
    pred = model(images[idx])
    loss = mse(pred, targets[idx])
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if step % 25 == 0 or step == 249:
        mae = ((pred - targets[idx]).abs() * MAX_COUNT).mean().item()
        print(f"step {step:3d}  mse {loss.item():.5f}  count MAE {mae:.2f}")
