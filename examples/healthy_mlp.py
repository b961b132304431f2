"""Healthy: an MLP classifier with dropout, a validation loop in eval mode, a DataLoader."""
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from toydata import blobs

torch.manual_seed(0)
x, y = blobs(n=3072)
train = DataLoader(TensorDataset(x[:2560], y[:2560]), batch_size=64, shuffle=True)
val = DataLoader(TensorDataset(x[2560:], y[2560:]), batch_size=256)

model = nn.Sequential(nn.Linear(20, 128), nn.ReLU(), nn.Dropout(0.1), nn.Linear(128, 10))
opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-2)
loss_fn = nn.CrossEntropyLoss()


def make_setup():
    """For `traindoctor checkup examples/healthy_mlp.py:make_setup`."""
    return {"model": model, "batch": next(iter(train)), "loss_fn": loss_fn, "optimizer": opt}


def evaluate():
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for xb, yb in val:
            correct += (model(xb).argmax(1) == yb).sum().item()
            total += len(yb)
    model.train()
    return correct / total


if __name__ == "__main__":
    for epoch in range(6):
        for xb, yb in train:
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
        print(f"epoch {epoch} loss {loss.item():.6f} val_acc {evaluate():.4f}")
