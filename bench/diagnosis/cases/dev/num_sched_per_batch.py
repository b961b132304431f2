# source: https://github.com/ivadomed/ivadomed/pull/55
# expect: scheduler-too-fast
# category: classification
# bug: an ExponentialLR(gamma=0.95) meant to decay the learning rate once per epoch is stepped after every batch; with 60 batches per epoch the learning rate falls about 20x in the first epoch and about 400x by the second, and the loss freezes far above what the model can reach
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(11)

N, D, C = 3840, 30, 5
X = torch.randn(N, D)
W = torch.randn(D, 16)
V = torch.randn(16, C)
y = (torch.tanh(X @ W) @ V).argmax(1)

train_loader = DataLoader(TensorDataset(X, y), batch_size=64, shuffle=True)

model = nn.Sequential(nn.Linear(D, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, C))
optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.95)
criterion = nn.CrossEntropyLoss()


def train_one_epoch():
    model.train()
    total, correct = 0.0, 0
    for xb, yb in train_loader:
        optimizer.zero_grad()
        out = model(xb)
        loss = criterion(out, yb)
        loss.backward()
        optimizer.step()
        scheduler.step()
        total += loss.item() * len(yb)
        correct += (out.argmax(1) == yb).sum().item()
    return total / N, correct / N


for epoch in range(10):
    loss, acc = train_one_epoch()
    print(f"epoch {epoch}  loss {loss:.4f}  acc {acc:.3f}  lr {scheduler.get_last_lr()[0]:.2e}")
