# source: https://stats.stackexchange.com/questions/409000/should-we-normalize-target-data-as-well-as-input-data
# expect: unnormalized-targets
# category: regression
# bug: house prices (around 250,000) are regressed directly with MSE from a default-initialised network whose output starts near 0; inputs are standardised but the target never is
import numpy as np
import torch
import torch.nn as nn

rng = np.random.default_rng(10)
torch.manual_seed(10)

n = 2000
sqft = rng.normal(1800, 500, n)
bedrooms = rng.integers(1, 6, n)
age = rng.uniform(0, 80, n)
dist_center = rng.exponential(8, n)
price = (90 * sqft + 12000 * bedrooms - 900 * age - 4000 * dist_center
         + 60000 + rng.normal(0, 15000, n))

X = np.stack([sqft, bedrooms, age, dist_center], 1)
X = (X - X.mean(0)) / X.std(0)
X = torch.tensor(X, dtype=torch.float32)
y = torch.tensor(price, dtype=torch.float32).unsqueeze(1)

model = nn.Sequential(nn.Linear(4, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1))
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
loss_fn = nn.MSELoss()

for step in range(400):
    idx = torch.randint(0, 1600, (64,))
    loss = loss_fn(model(X[idx]), y[idx])
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 40 == 0:
        with torch.no_grad():
            rmse = loss_fn(model(X[1600:]), y[1600:]).sqrt().item()
        print(f"step {step:3d} mse {loss.item():.3e}  val rmse ${rmse:,.0f}")
