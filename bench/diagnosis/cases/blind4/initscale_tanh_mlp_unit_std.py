# source: CS231n notes "Neural Networks Part 2 - Weight Initialization" (tanh units saturate when weights are drawn with unit std); Stack Overflow "Neural network with tanh activation always outputs -1 or 1"
# expect: saturated-activations, vanishing-gradients
# category: tabular
# bug: build_mlp(..., weight_std=1.0) draws every Linear weight from N(0, 1); with 256-wide tanh layers the pre-activations have std ~16, nearly every unit sits at +/-1 where tanh' ~ 0, and the regressor barely learns
import numpy as np
import torch
import torch.nn as nn

torch.manual_seed(0)
np.random.seed(0)

D_IN = 24
HIDDEN = [256, 256, 128]
WEIGHT_STD = 1.0
LR, MOMENTUM = 0.01, 0.9
BATCH, EPOCHS = 128, 12


def make_housing(n, d, rng):
    X = rng.normal(size=(n, d))
    w = rng.normal(size=d) / np.sqrt(d)
    y = (np.tanh(X @ w) * 2 + 0.5 * X[:, 0] * X[:, 1] + np.sin(X[:, 2] * 1.5)
         + 0.3 * X[:, 3] ** 2 + rng.normal(0, 0.1, n))
    y = (y - y.mean()) / y.std()
    return torch.tensor(X, dtype=torch.float32), torch.tensor(y, dtype=torch.float32).unsqueeze(1)


def build_mlp(d_in, hidden, weight_std):
    layers, prev = [], d_in
    for h in hidden:
        layers += [nn.Linear(prev, h), nn.Tanh()]
        prev = h
    layers.append(nn.Linear(prev, 1))
    net = nn.Sequential(*layers)
    for m in net:
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, mean=0.0, std=weight_std)
            nn.init.zeros_(m.bias)
    return net


rng = np.random.default_rng(0)
X, y = make_housing(10000, D_IN, rng)
Xtr, ytr, Xte, yte = X[:8000], y[:8000], X[8000:], y[8000:]
model = build_mlp(D_IN, HIDDEN, weight_std=WEIGHT_STD)
opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
loss_fn = nn.MSELoss()
for ep in range(EPOCHS):
    perm = torch.randperm(len(Xtr))
    tot = 0.0
    for k in range(0, len(Xtr), BATCH):
        idx = perm[k:k + BATCH]
        opt.zero_grad()
        loss = loss_fn(model(Xtr[idx]), ytr[idx])
        loss.backward()
        opt.step()
        tot += loss.item() * len(idx)
    with torch.no_grad():
        te = loss_fn(model(Xte), yte).item()
    print(f"epoch {ep + 1:2d}  train_mse {tot / len(Xtr):.4f}  test_mse {te:.4f}")
