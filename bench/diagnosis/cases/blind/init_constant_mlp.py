# source: https://notebook.community/bbartoldson/examples/Breaking%20Symmetry/breaking_symmetry
# expect: symmetric-units
# category: tabular
# bug: init_weights sets every Linear weight to the same constant (and biases to 0) via model.apply, so all hidden units of each layer are copies and stay copies
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import TensorDataset, DataLoader

torch.manual_seed(0)

# four quadrant-like classes in 2 informative dims + 6 noise dims
n = 2048
X = torch.randn(n, 8)
y = (X[:, 0] > 0).long() * 2 + (X[:, 1] > 0).long()
X[:, 2:] *= 0.5
mean, std = X.mean(0), X.std(0)
X = (X - mean) / std

train_ds = TensorDataset(X[:1600], y[:1600])
val_X, val_y = X[1600:], y[1600:]
loader = DataLoader(train_ds, batch_size=64, shuffle=True)


class TabularNet(nn.Module):
    def __init__(self, d_in, n_classes):
        super().__init__()
        self.fc1 = nn.Linear(d_in, 64)
        self.fc2 = nn.Linear(64, 64)
        self.out = nn.Linear(64, n_classes)

    def forward(self, x):
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.out(x)


def init_weights(m):
    if isinstance(m, nn.Linear):
        nn.init.constant_(m.weight, 0.05)
        nn.init.zeros_(m.bias)


model = TabularNet(8, 4)
model.apply(init_weights)
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

step = 0
for epoch in range(12):
    model.train()
    for xb, yb in loader:
        loss = F.cross_entropy(model(xb), yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        step += 1
        if step % 50 == 0:
            print(f"step {step:4d}  loss {loss.item():.4f}")
    model.eval()
    with torch.no_grad():
        acc = (model(val_X).argmax(1) == val_y).float().mean().item()
    print(f"epoch {epoch:2d}  val_acc {acc:.3f}")
