# source: https://github.com/weizheliu/People-Flows/issues/7
# expect: graph-break
# category: regression
# bug: per-sample counts are summed with .item() into a Python list and rebuilt with torch.tensor(..., requires_grad=True) to silence the backward error; the density network gets no gradient
import torch
import torch.nn as nn

torch.manual_seed(9)

# 1-D "crowd" signals (batch, channel, length): a few bumps, target = number of bumps
def make_signals(n, length=64):
    x = 0.1 * torch.randn(n, 1, length)
    counts = torch.randint(0, 6, (n,))
    pos = torch.arange(length).float()
    for i in range(n):
        for c in torch.randint(4, length - 4, (int(counts[i]),)):
            x[i, 0] += torch.exp(-0.5 * ((pos - c) / 1.5) ** 2)
    return x, counts.float()


class DensityNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv1d(1, 16, 5, padding=2), nn.ReLU(),
            nn.Conv1d(16, 16, 5, padding=2), nn.ReLU(),
            nn.Conv1d(16, 1, 1), nn.Softplus())

    def forward(self, x):
        return self.net(x)


X, Y = make_signals(1200)
model = DensityNet()
optimizer = torch.optim.RMSprop(model.parameters(), lr=1e-3)
criterion = nn.MSELoss()

for epoch in range(10):
    epoch_loss = 0
    for i in range(0, 1200, 40):
        density = model(X[i:i + 40])
        counts = []
        for d in density:
            counts.append(d.sum().item())
        pred = torch.tensor(counts, requires_grad=True)
        loss = criterion(pred, Y[i:i + 40])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        epoch_loss += loss.item()
    print("epoch", epoch, "count mse", round(epoch_loss / 30, 4))
