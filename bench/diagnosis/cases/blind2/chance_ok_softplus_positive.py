# source: https://github.com/luoyetx/deep-landmark/issues/17
# expect: healthy
# category: tabular
# bug: none; delivery times are strictly positive (5..60 minutes, standardised inputs) and the regressor ends in Softplus, whose range covers every target
import torch
import torch.nn as nn

torch.manual_seed(38)

n = 4000
distance = torch.rand(n) * 10
traffic = torch.rand(n)
items = torch.randint(1, 8, (n,)).float()
minutes = 5 + 3.5 * distance * (1 + traffic) + 1.5 * items + torch.randn(n)
X = torch.stack([distance, traffic, items], 1)
X = (X - X.mean(0)) / X.std(0)
y = minutes.unsqueeze(1) / 10.0  # in tens of minutes

model = nn.Sequential(nn.Linear(3, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1), nn.Softplus())
optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
criterion = nn.MSELoss()

for epoch in range(8):
    perm = torch.randperm(n)
    for i in range(0, n, 128):
        idx = perm[i:i + 128]
        loss = criterion(model(X[idx]), y[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        pred = model(X)
        mae = ((pred - y).abs().mean() * 10).item()
    print(f"epoch {epoch}: mse {criterion(pred, y).item():.4f}  MAE {mae:.2f} min  min pred {pred.min().item() * 10:.1f} min")
