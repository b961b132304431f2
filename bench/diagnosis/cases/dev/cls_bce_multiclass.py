# source: https://github.com/MontaEllis/Pytorch-Medical-Segmentation/issues/8
# expect: target-out-of-range
# category: classification
# bug: a three-class problem trained with one output unit and BCEWithLogitsLoss on the raw class indices (0, 1, 2): targets of 2 lie outside [0, 1], the loss is unbounded below and goes negative (wrong loss selection)
"""Three-class classifier with a binary loss: a single logit and BCEWithLogitsLoss on class ids."""
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Dataset


class Blobs(Dataset):
    def __init__(self, n=1500, d=10, seed=7):
        g = torch.Generator().manual_seed(seed)
        centers = torch.randn(3, d, generator=g) * 2.0
        self.y = torch.randint(0, 3, (n,), generator=g)
        self.x = centers[self.y] + torch.randn(n, d, generator=g)

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return self.x[i], self.y[i]


class Net(nn.Module):
    def __init__(self, d=10):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(d, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU())
        self.out = nn.Linear(32, 1)

    def forward(self, x):
        return self.out(self.body(x)).squeeze(-1)


if __name__ == "__main__":
    torch.manual_seed(7)
    data = Blobs()
    loader = DataLoader(data, batch_size=50, shuffle=True)
    model = Net()
    criterion = nn.BCEWithLogitsLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)

    for epoch in range(8):
        epoch_loss = 0.0
        for xb, yb in loader:
            optimizer.zero_grad()
            loss = criterion(model(xb), yb.float())
            loss.backward()
            optimizer.step()
            epoch_loss += loss.item() * len(yb)
        with torch.no_grad():
            pred = torch.sigmoid(model(data.x)).round()
            acc = (pred == data.y.float()).float().mean().item()
        print(f"epoch {epoch:2d}  loss {epoch_loss / len(data):.4f}  acc {acc:.3f}")
