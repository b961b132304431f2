# source: https://github.com/Linear95/CLUB/issues/27
# expect: healthy
# category: regression
# bug: Poisson regression that keeps the network output as the log-rate and uses poisson_nll_loss(log_input=True); exp is only applied for reporting
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(7)

n = 1000
temp = torch.rand(n, 1) * 35
hum = torch.rand(n, 1) * 100
wind = torch.rand(n, 1) * 20
weekend = (torch.rand(n, 1) > 0.7).float()
X = torch.cat([temp, hum, wind, weekend], dim=1)
X = (X - X.mean(0)) / X.std(0)
rate_true = torch.exp(4.0 + 0.8 * X[:, 0] - 0.4 * X[:, 1] + 0.3 * X[:, 3])
y = torch.poisson(rate_true).unsqueeze(1)

model = nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 1))
with torch.no_grad():
    model[2].bias.fill_(torch.log(y.mean()).item())
optimizer = torch.optim.Adam(model.parameters(), lr=0.01)

for epoch in range(200):
    log_rate = model(X)
    loss = F.poisson_nll_loss(log_rate, y, log_input=True)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if epoch % 30 == 0 or epoch == 199:
        mae = (torch.exp(log_rate) - y).abs().mean().item()
        print(f"epoch {epoch} loss {loss.item():.4f} mae {mae:.2f}")
