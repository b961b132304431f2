# source: https://github.com/amoodie/StratGAN/issues/3
# expect: labels-decoupled, input-ignored
# category: tabular
# bug: features and labels are split into train/val with two separate random_split calls, each drawing its own permutation, so every training row is paired with another row's label
"""Credit-default style tabular classifier with a train/validation split."""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset, random_split

torch.manual_seed(0)
rng = np.random.default_rng(0)

N, D = 2000, 12
X = rng.standard_normal((N, D)).astype(np.float32)
w = rng.standard_normal(D).astype(np.float32)
logit = X @ w + 0.8 * X[:, 0] * X[:, 1]
y = (logit > 0).astype(np.int64)

features = torch.from_numpy(X)
labels = torch.from_numpy(y)

n_train = int(0.8 * N)
# BUG: two independent random_split calls -> two different permutations
X_train, X_val = random_split(features, [n_train, N - n_train])
y_train, y_val = random_split(labels, [n_train, N - n_train])

train_ds = TensorDataset(torch.stack([X_train[i] for i in range(len(X_train))]),
                         torch.stack([y_train[i] for i in range(len(y_train))]))
val_ds = TensorDataset(torch.stack([X_val[i] for i in range(len(X_val))]),
                       torch.stack([y_val[i] for i in range(len(y_val))]))

model = nn.Sequential(nn.Linear(D, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 2))
opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)
loader = DataLoader(train_ds, batch_size=64, shuffle=True)

for epoch in range(6):
    model.train()
    total = 0.0
    for xb, yb in loader:
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        total += loss.item() * len(xb)
    model.eval()
    with torch.no_grad():
        xv, yv = val_ds.tensors
        val_loss = F.cross_entropy(model(xv), yv).item()
        acc = (model(xv).argmax(1) == yv).float().mean().item()
    print(f"epoch {epoch}  train loss {total / len(train_ds):.4f}  val loss {val_loss:.4f}  val acc {acc:.3f}")
