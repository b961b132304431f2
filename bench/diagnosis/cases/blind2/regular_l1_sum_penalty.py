# source: https://datascience.stackexchange.com/questions/73134/should-the-lambda-for-l1-norm-regularizer-inversely-be-proportional-to-the-numbe/75296
# expect: over-regularization
# category: regression
# bug: an L1 penalty summed over every weight of a 10k-parameter MLP with lambda=0.05 (a value tuned for a small linear model) is added to a per-sample-mean MSE; the penalty dominates and drives the network to predict the mean
import torch
import torch.nn as nn

torch.manual_seed(23)

# soil moisture from 10 sensor channels (already standardised)
X = torch.randn(2500, 10)
y = (torch.sin(X[:, 0] * 1.5) + 0.8 * X[:, 1] * X[:, 2] - 0.6 * X[:, 3] + 0.1 * torch.randn(2500)).unsqueeze(1)
y = (y - y.mean()) / y.std()

model = nn.Sequential(
    nn.Linear(10, 96), nn.ReLU(),
    nn.Linear(96, 96), nn.ReLU(),
    nn.Linear(96, 1),
)
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
l1_lambda = 0.05

for step in range(400):
    idx = torch.randint(0, 2000, (64,))
    pred = model(X[idx])
    mse = nn.functional.mse_loss(pred, y[idx])
    l1 = sum(p.abs().sum() for p in model.parameters())
    loss = mse + l1_lambda * l1
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 40 == 0:
        with torch.no_grad():
            val = nn.functional.mse_loss(model(X[2000:]), y[2000:]).item()
        print(f"step {step:3d} loss {loss.item():.4f} mse {mse.item():.4f} val mse {val:.4f}")
