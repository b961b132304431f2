# source: https://github.com/pgniewko/gt-pyg/issues/112
# expect: cross-sample-leakage
# category: tabular
# bug: the DataLoader's collate_fn standardises each batch with that batch's own mean/std, so a row's features depend on the rows it is batched with
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(14)
n = 2400
group = torch.randint(0, 2, (n,))
X = torch.randn(n, 6) + 4.0 * group.unsqueeze(1).float()
y = (X[:, 0] + X[:, 1] > 4.0).float()


def standardise_collate(batch):
    xs = torch.stack([b[0] for b in batch])
    ys = torch.stack([b[1] for b in batch])
    xs = (xs - xs.mean(0)) / (xs.std(0) + 1e-6)
    return xs, ys


train = TensorDataset(X[:2000], y[:2000])
loader = DataLoader(train, batch_size=32, shuffle=True, collate_fn=standardise_collate)
model = nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Linear(32, 1))
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
bce = nn.BCEWithLogitsLoss()

for epoch in range(5):
    for xb, yb in loader:
        loss = bce(model(xb).squeeze(1), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
    print(f"epoch {epoch} loss {loss.item():.4f}")

# validation arrives sorted by group (e.g. one site at a time)
val_x, val_y = X[2000:], y[2000:]
order = torch.argsort(group[2000:])
val_loader = DataLoader(TensorDataset(val_x[order], val_y[order]), batch_size=32, collate_fn=standardise_collate)
correct = 0
with torch.no_grad():
    for xb, yb in val_loader:
        correct += ((model(xb).squeeze(1) > 0).float() == yb).sum().item()
print("val accuracy", correct / len(val_y))
