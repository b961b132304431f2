# source: https://github.com/andrewgcodes/xlstm/issues/4
# expect: broadcast-loss
# category: sequence
# bug: the LSTM forecaster's head gives (B,1) but the collate function stacks next-step targets as (B,); L1Loss broadcasts to (B,B)
import math
import torch
import torch.nn as nn
from torch.utils.data import Dataset, DataLoader

torch.manual_seed(1)


class SineWindows(Dataset):
    def __init__(self, n_series=400, length=24):
        self.items = []
        for _ in range(n_series):
            freq = 0.2 + 0.6 * torch.rand(1).item()
            phase = 2 * math.pi * torch.rand(1).item()
            amp = 0.5 + torch.rand(1).item()
            t = torch.arange(length + 1, dtype=torch.float32)
            s = amp * torch.sin(freq * t + phase)
            self.items.append((s[:-1], s[-1]))

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


def collate(batch):
    xs = torch.stack([b[0] for b in batch], dim=1).unsqueeze(-1)   # (T, B, 1)
    ys = torch.stack([b[1] for b in batch])                          # (B,)
    return xs, ys


class Forecaster(nn.Module):
    def __init__(self, hidden=32):
        super().__init__()
        self.lstm = nn.LSTM(1, hidden)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x):
        out, (h, c) = self.lstm(x)
        return self.head(out[-1])


loader = DataLoader(SineWindows(), batch_size=32, shuffle=True, collate_fn=collate)
model = Forecaster()
loss_fn = nn.L1Loss()
opt = torch.optim.Adam(model.parameters(), lr=3e-3)

step = 0
for epoch in range(15):
    for x, y in loader:
        pred = model(x)
        loss = loss_fn(pred, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 25 == 0:
            print(f"step {step:4d}  l1 {loss.item():.4f}")
        step += 1
