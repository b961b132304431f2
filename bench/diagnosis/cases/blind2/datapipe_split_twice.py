# source: https://thecodeforge.io/ml-ai/scikit-learn-train-test-split/
# expect: labels-decoupled
# category: regression
# bug: train/validation split applied to X and to y by two calls that each draw their own random permutation, so train targets belong to other rows
import numpy as np
import torch
import torch.nn as nn


def random_split(arr, val_frac=0.2, seed=None):
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(arr))
    cut = int(len(arr) * (1 - val_frac))
    return arr[idx[:cut]], arr[idx[cut:]]


torch.manual_seed(0)
gen = np.random.default_rng(123)

# concrete compressive strength from mix proportions (synthetic, already scaled)
n = 2500
mix = gen.normal(size=(n, 6)).astype(np.float32)
strength = (1.5 * mix[:, 0] - 0.8 * mix[:, 1] + 0.5 * mix[:, 2] * mix[:, 3]
            + 0.3 * np.sin(2 * mix[:, 4]) + 0.1 * gen.normal(size=n)).astype(np.float32)

X_tr, X_va = random_split(mix)
y_tr, y_va = random_split(strength)

X_tr, X_va = torch.from_numpy(X_tr), torch.from_numpy(X_va)
y_tr, y_va = torch.from_numpy(y_tr), torch.from_numpy(y_va)

model = nn.Sequential(nn.Linear(6, 64), nn.SiLU(), nn.Linear(64, 64), nn.SiLU(), nn.Linear(64, 1))
opt = torch.optim.Adam(model.parameters(), lr=3e-3)
mse = nn.MSELoss()

for step in range(300):
    idx = torch.randint(0, len(X_tr), (64,))
    pred = model(X_tr[idx]).squeeze(-1)
    loss = mse(pred, y_tr[idx])
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 30 == 0:
        with torch.no_grad():
            val = mse(model(X_va).squeeze(-1), y_va).item()
        print(f"step {step:3d} train mse {loss.item():.4f} val mse {val:.4f}")
