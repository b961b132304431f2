# source: https://github.com/yunjey/pytorch-tutorial/issues/196
# expect: healthy
# category: sequence
# bug: none: a sequence-first nn.LSTM (batch_first=False) fed (time, batch, feature) tensors built by the collate function, reading out[-1]
"""Sequence classification with a time-major pipeline.

Which of three channels has the largest total over time.  The collate function stacks samples
along dim 1, so every batch is (time, batch, feature) as the default nn.LSTM expects.
"""
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Dataset

torch.manual_seed(0)

T, F, C = 20, 4, 3


class DriftDataset(Dataset):
    def __init__(self, n):
        self.x = torch.randn(n, T, F) * 0.5
        shift = torch.randint(0, C, (n,))
        self.x[torch.arange(n), :, shift] += 0.35
        self.y = self.x[:, :, :C].sum(dim=1).argmax(dim=1)

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return self.x[i], self.y[i]


def time_major(batch):
    xs, ys = zip(*batch)
    return torch.stack(xs, dim=1), torch.stack(ys)     # (T, B, F), (B,)


class RNNClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(F, 32)        # sequence-first, on purpose
        self.fc = nn.Linear(32, C)

    def forward(self, x):                 # x: (time, batch, feature)
        out, (h, c) = self.lstm(x)
        return self.fc(out[-1])           # last time step, every sample


loader = DataLoader(DriftDataset(2048), batch_size=64, shuffle=True, collate_fn=time_major)
model = RNNClassifier()
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=3, gamma=0.5)

for epoch in range(4):
    total, correct, seen = 0.0, 0, 0
    for i, (xb, yb) in enumerate(loader):
        optimizer.zero_grad()
        logits = model(xb)
        loss = criterion(logits, yb)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optimizer.step()
        total += loss.item() * len(yb)
        correct += (logits.argmax(1) == yb).sum().item()
        seen += len(yb)
        if i % 10 == 0:
            print(f"epoch {epoch} step {i:3d} loss {loss.item():.4f}")
    scheduler.step()
    print(f"epoch {epoch} mean loss {total / seen:.4f} acc {correct / seen:.3f}")
