# source: https://github.com/yunjey/pytorch-tutorial/issues/196
# expect: batch-mixing
# category: sequence
# bug: nn.LSTM is built without batch_first=True but fed (batch, time, feature) tensors, so it recurs over the batch axis and out[:, -1, :] picks one sample's step for every row
"""Sequence classification: which of three input channels carries the largest total over time.

Each sample is a (20, 4) sequence; the label is argmax over channels 0..2 of the sum over time.
The DataLoader yields (batch, time, feature) tensors, as usual.
"""
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)

N, T, F, C = 2048, 20, 4, 3


def make_data(n):
    x = torch.randn(n, T, F) * 0.5
    shift = torch.randint(0, C, (n,))
    x[torch.arange(n), :, shift] += 0.35          # one channel drifts upward
    y = x[:, :, :C].sum(dim=1).argmax(dim=1)
    return x, y


class RNNClassifier(nn.Module):
    def __init__(self, in_dim, hidden, n_layers, n_classes):
        super().__init__()
        self.lstm = nn.LSTM(in_dim, hidden, n_layers)   # batch_first left at its default (False)
        self.fc = nn.Linear(hidden, n_classes)

    def forward(self, x):                 # x: (batch, time, feature)
        out, _ = self.lstm(x)
        return self.fc(out[:, -1, :])     # "last time step"


x_train, y_train = make_data(N)
loader = DataLoader(TensorDataset(x_train, y_train), batch_size=64, shuffle=True)

model = RNNClassifier(F, 32, 1, C)
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)

for epoch in range(4):
    total, correct, seen = 0.0, 0, 0
    for i, (xb, yb) in enumerate(loader):
        logits = model(xb)
        loss = criterion(logits, yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item() * len(yb)
        correct += (logits.argmax(1) == yb).sum().item()
        seen += len(yb)
        if i % 10 == 0:
            print(f"epoch {epoch} step {i:3d} loss {loss.item():.4f}")
    print(f"epoch {epoch} mean loss {total / seen:.4f} acc {correct / seen:.3f}")
