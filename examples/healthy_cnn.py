"""Healthy: a CNN with batch norm, a per-epoch StepLR schedule and a 2-worker DataLoader."""
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from toydata import images


def conv_block(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(), nn.MaxPool2d(2))


def build(workers=2):
    torch.manual_seed(0)
    x, y = images(n=1280)
    train = DataLoader(TensorDataset(x[:1024], y[:1024]), batch_size=32, shuffle=True, num_workers=workers)
    val = DataLoader(TensorDataset(x[1024:], y[1024:]), batch_size=128)
    model = nn.Sequential(conv_block(3, 16), conv_block(16, 32), nn.Flatten(), nn.Linear(32 * 4 * 4, 4))
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    return model, opt, train, val


def make_setup():
    """For `traindoctor checkup examples/healthy_cnn.py:make_setup`."""
    model, opt, train, _ = build(workers=0)
    return {"model": model, "batch": next(iter(train)), "loss_fn": nn.CrossEntropyLoss(), "optimizer": opt}


def main():
    model, opt, train, val = build()
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.3)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(5):
        model.train()
        for xb, yb in train:
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
        sched.step()
        model.eval()
        with torch.no_grad():
            acc = sum((model(xb).argmax(1) == yb).sum().item() for xb, yb in val) / 256
        print(f"epoch {epoch} loss {loss.item():.6f} val_acc {acc:.4f} lr {sched.get_last_lr()[0]:.4f}")


if __name__ == "__main__":
    main()
