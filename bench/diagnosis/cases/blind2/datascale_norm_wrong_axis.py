# source: https://github.com/theislab/moscot/issues/698
# expect: unnormalized-inputs
# category: regression
# bug: standardisation statistics are taken over dim=1 (each row's own features) instead of dim=0 (each feature over the rows); the small informative columns end up squashed to ~1e-3 variations around a constant
import torch
import torch.nn as nn

torch.manual_seed(13)

# engine test-bench readings -> fuel efficiency
n = 3000
rpm = torch.rand(n) * 4000 + 1000          # 1000-5000
load_kg = torch.rand(n) * 800 + 200        # 200-1000
air_temp = torch.randn(n) * 6 + 20         # ~20 C
throttle = torch.rand(n)                   # 0-1
humidity = torch.rand(n)                   # 0-1
eff = (2.0 * throttle - 1.5 * (throttle - 0.5) ** 2 + 0.8 * humidity
       - 0.0002 * (rpm - 3000) + 0.05 * torch.randn(n))

features = torch.stack([rpm, load_kg, air_temp, throttle, humidity], dim=1)
mu = features.mean(dim=1, keepdim=True)
sigma = features.std(dim=1, keepdim=True)
features = (features - mu) / sigma
target = (eff - eff.mean()) / eff.std()

train_x, train_y = features[:2400], target[:2400]
test_x, test_y = features[2400:], target[2400:]

net = nn.Sequential(nn.Linear(5, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1))
opt = torch.optim.Adam(net.parameters(), lr=1e-3)

for step in range(400):
    idx = torch.randint(0, 2400, (64,))
    loss = ((net(train_x[idx]).squeeze(1) - train_y[idx]) ** 2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 50 == 0:
        with torch.no_grad():
            test_mse = ((net(test_x).squeeze(1) - test_y) ** 2).mean().item()
        print(f"step {step} train mse {loss.item():.4f} test mse {test_mse:.4f}")
