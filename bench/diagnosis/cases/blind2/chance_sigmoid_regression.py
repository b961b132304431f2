# source: http://stackoverflow.com/questions/9048031/neural-network-output-scaling-the-output-range
# expect: output-range-mismatch
# category: vision
# bug: a CNN that counts blobs (targets 2..20) ends in nn.Sigmoid, so its prediction can never exceed 1
import torch
import torch.nn as nn

torch.manual_seed(31)

S = 20


def draw(n):
    imgs = 0.1 * torch.randn(n, 1, S, S)
    counts = torch.randint(2, 21, (n,))
    for i in range(n):
        pos = torch.randint(0, S - 2, (int(counts[i]), 2))
        for r, c in pos.tolist():
            imgs[i, 0, r:r + 2, c:c + 2] = 1.0
    return imgs, counts.float()


images, counts = draw(500)


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
    loss = mse(pred, counts[idx])
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if step % 25 == 0 or step == 249:
        print(f"step {step:3d}  mse {loss.item():8.3f}  mean pred {pred.mean().item():.3f}  mean count {counts[idx].mean().item():.2f}")
