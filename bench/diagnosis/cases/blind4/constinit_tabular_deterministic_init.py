# source: https://stackoverflow.com/questions/20027598/why-should-weights-of-neural-networks-be-initialized-to-random-numbers (constant init -> every hidden unit computes the same function)
# expect: symmetric-units
# category: tabular
# bug: reset_parameters fills every Linear weight with the same constant "for reproducibility", so all hidden units of each layer stay identical copies and the 256/128-wide MLP behaves like a width-1 network
import math
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

SEED = 7
torch.manual_seed(SEED)
np.random.seed(SEED)

N_TRAIN, N_VAL = 6000, 2000
N_NUM, N_CAT, CAT_CARD = 14, 3, 6
N_CLASSES = 4


def make_churn_table(n, rng):
    """Synthetic customer table: numeric usage features + one-hot plan columns."""
    num = rng.normal(size=(n, N_NUM)).astype(np.float32)
    cats = rng.integers(0, CAT_CARD, size=(n, N_CAT))
    onehot = np.zeros((n, N_CAT * CAT_CARD), dtype=np.float32)
    for j in range(N_CAT):
        onehot[np.arange(n), j * CAT_CARD + cats[:, j]] = 1.0
    # segment label: nonlinear mix of usage and plan
    s0 = num[:, 0] * num[:, 1] + np.sin(2 * num[:, 2]) + 0.8 * (cats[:, 0] % 2)
    s1 = num[:, 3] ** 2 - num[:, 4] - 0.6 * (cats[:, 1] > 2)
    s2 = np.abs(num[:, 5]) - num[:, 6] * num[:, 7] + 0.5 * (cats[:, 2] == 1)
    s3 = 0.5 * num[:, 8] + np.cos(num[:, 9] + num[:, 10])
    logits = np.stack([s0, s1, s2, s3], 1) + 0.3 * rng.normal(size=(n, 4))
    y = logits.argmax(1)
    return np.concatenate([num, onehot], 1), y.astype(np.int64)


rng = np.random.default_rng(SEED)
Xtr, ytr = make_churn_table(N_TRAIN, rng)
Xva, yva = make_churn_table(N_VAL, rng)


class TabularNet(nn.Module):
    def __init__(self, d_in, hidden=(256, 128), n_out=N_CLASSES):
        super().__init__()
        layers, prev = [], d_in
        for h in hidden:
            layers += [nn.Linear(prev, h), nn.BatchNorm1d(h), nn.ReLU()]
            prev = h
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(prev, n_out)
        self.reset_parameters()

    def reset_parameters(self):
        # deterministic init so that results are identical across machines / seeds
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.constant_(m.weight, 1.0 / math.sqrt(m.in_features))
                nn.init.zeros_(m.bias)

    def forward(self, x):
        return self.head(self.body(x))


def evaluate(model, X, y):
    model.eval()
    with torch.no_grad():
        logits = model(torch.from_numpy(X))
        loss = F.cross_entropy(logits, torch.from_numpy(y)).item()
        acc = (logits.argmax(1).numpy() == y).mean()
    model.train()
    return loss, acc


def main():
    t0 = time.time()
    model = TabularNet(Xtr.shape[1])
    opt = torch.optim.Adam(model.parameters(), lr=2e-3, weight_decay=1e-5)
    loader = DataLoader(TensorDataset(torch.from_numpy(Xtr), torch.from_numpy(ytr)),
                        batch_size=128, shuffle=True)
    for epoch in range(1, 11):
        run = 0.0
        for xb, yb in loader:
            opt.zero_grad()
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
            run += loss.item() * len(xb)
        if epoch % 3 == 0 or epoch == 1:
            vl, va = evaluate(model, Xva, yva)
            print(f"epoch {epoch:2d} train_loss {run / N_TRAIN:.4f} val_loss {vl:.4f} val_acc {va:.3f}")
    print(f"done in {time.time() - t0:.1f}s")


if __name__ == "__main__":
    main()
