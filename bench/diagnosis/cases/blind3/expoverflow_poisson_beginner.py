# source: https://github.com/Linear95/CLUB/issues/27
# expect: nonfinite-forward, loss-divergence, loss-nonfinite-region
# category: regression
# bug: the Poisson rate is torch.exp(model(x)) with no bound and the NLL is written by hand; the raw output overshoots and exp overflows to inf, the loss goes NaN
import torch
import torch.nn as nn

torch.manual_seed(7)

# daily bike rentals from weather features
n = 2000
temp = torch.rand(n, 1) * 35
hum = torch.rand(n, 1) * 100
wind = torch.rand(n, 1) * 20
weekend = (torch.rand(n, 1) > 0.7).float()
X = torch.cat([temp, hum, wind, weekend], dim=1)
X = (X - X.mean(0)) / X.std(0)
rate_true = torch.exp(4.0 + 0.8 * X[:, 0] - 0.4 * X[:, 1] + 0.3 * X[:, 3])
y = torch.poisson(rate_true).unsqueeze(1)

model = nn.Sequential(
    nn.Linear(4, 32),
    nn.ReLU(),
    nn.Linear(32, 1),
)
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)

for epoch in range(300):
    rate = torch.exp(model(X))
    loss = torch.mean(rate - y * torch.log(rate))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if epoch % 30 == 0 or epoch < 5:
        print("epoch", epoch, "loss", loss.item())
