# source: https://github.com/TencentGameMate/gnn_cross_lingual/issues/5
# expect: target-out-of-range, script-error
# category: tabular
# bug: the label column is numbered 1..4 but the model has 4 outputs and CrossEntropyLoss wants 0..3; the first batch holding a 4 raises "IndexError: Target 4 is out of bounds"
"""Tabular grading task read from an in-memory CSV; the 'grade' column is 1-based."""
import io

import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset


def build_csv(n=800, seed=2):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 5))
    score = x @ np.array([1.0, -0.7, 0.5, 0.3, 0.0]) + 0.3 * rng.standard_normal(n)
    grade = np.digitize(score, np.quantile(score, [0.25, 0.5, 0.75])) + 1  # grades 1, 2, 3, 4
    buf = io.StringIO()
    buf.write("f1,f2,f3,f4,f5,grade\n")
    for row, g in zip(x, grade):
        buf.write(",".join(f"{v:.5f}" for v in row) + f",{g}\n")
    return buf.getvalue()


def load(text):
    arr = np.loadtxt(io.StringIO(text), delimiter=",", skiprows=1)
    feats = torch.tensor(arr[:, :5], dtype=torch.float32)
    grade = torch.tensor(arr[:, 5], dtype=torch.long)
    return feats, grade


def train():
    torch.manual_seed(2)
    feats, grade = load(build_csv())
    n_classes = int(len(torch.unique(grade)))  # 4
    print("grades present:", sorted(torch.unique(grade).tolist()), "n_classes:", n_classes)
    loader = DataLoader(TensorDataset(feats, grade), batch_size=32, shuffle=True)
    model = nn.Sequential(nn.Linear(5, 32), nn.ReLU(), nn.Linear(32, n_classes))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(10):
        total = 0.0
        for xb, yb in loader:
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            total += loss.item()
        print(f"epoch {epoch}  loss {total / len(loader):.4f}")


if __name__ == "__main__":
    train()
