# source: https://community.deeplearning.ai/t/multiple-linear-regression-housing-prices-problem-cost-too-high/211759
# expect: healthy
# category: regression
# bug: healthy - house prices in dollars are standardised for the loss and mapped back to dollars only to report the error (the printed numbers are large, the trained quantity is not)
import numpy as np
import torch
import torch.nn as nn

rng = np.random.default_rng(16)
torch.manual_seed(16)

n = 2000
sqft = rng.normal(1800, 500, n)
rooms = rng.integers(1, 6, n)
year = rng.integers(1930, 2020, n)
lot = rng.lognormal(8.5, 0.5, n)
price = (95 * sqft + 15000 * rooms + 700 * (year - 1930) + 2 * lot
         + 40000 + rng.normal(0, 12000, n))

feats = np.stack([sqft, rooms, year, np.log(lot)], 1)
x_mu, x_sd = feats[:1600].mean(0), feats[:1600].std(0)
y_mu, y_sd = price[:1600].mean(), price[:1600].std()

X = torch.tensor((feats - x_mu) / x_sd, dtype=torch.float32)
Y = torch.tensor((price - y_mu) / y_sd, dtype=torch.float32)

model = nn.Sequential(nn.Linear(4, 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 1))
opt = torch.optim.Adam(model.parameters(), lr=2e-3)

for step in range(350):
    idx = torch.randint(0, 1600, (64,))
    loss = nn.functional.mse_loss(model(X[idx]).squeeze(1), Y[idx])
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 35 == 0:
        with torch.no_grad():
            pred_dollars = model(X[1600:]).squeeze(1) * y_sd + y_mu
            rmse = torch.sqrt(((pred_dollars - torch.tensor(price[1600:], dtype=torch.float32)) ** 2).mean())
        print(f"step {step:3d} loss {loss.item():.4f}  holdout rmse ${rmse.item():,.0f}")
