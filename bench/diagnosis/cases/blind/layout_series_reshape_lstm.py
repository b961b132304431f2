# source: https://datascience.stackexchange.com/questions/33393/understanding-input-of-lstm
# expect: layout-scrambled
# category: regression
# bug: the Dataset stores each series as (features, time) and hands it to a batch_first LSTM with .reshape(time, features) instead of .T, so every "step" mixes readings from different features and times
import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import Dataset, DataLoader

torch.manual_seed(0)
rng = np.random.default_rng(0)
N_FEAT, WINDOW = 5, 30


def simulate(n):
    """Multivariate sensor log per sample, stored feature-major like the export: (features, time)."""
    series = np.zeros((n, N_FEAT, WINDOW + 1), dtype=np.float32)
    drift = rng.normal(0, 1, (n, N_FEAT, 1)).astype(np.float32)
    noise = rng.normal(0, 0.3, (n, N_FEAT, WINDOW + 1)).astype(np.float32)
    series[:] = np.cumsum(noise, axis=2) * 0.5 + drift
    return series


class SensorWindows(Dataset):
    def __init__(self, n):
        self.data = simulate(n)

    def __len__(self):
        return len(self.data)

    def __getitem__(self, i):
        s = torch.from_numpy(self.data[i])                # (F, WINDOW + 1)
        history = s[:, :WINDOW].reshape(WINDOW, N_FEAT)   # model wants (time, features)
        target = s[:, WINDOW].mean()                      # next reading, averaged over sensors
        return history, target


class Forecaster(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(N_FEAT, 48, batch_first=True)
        self.out = nn.Linear(48, 1)

    def forward(self, x):
        h, _ = self.lstm(x)
        return self.out(h[:, -1]).squeeze(-1)


loader = DataLoader(SensorWindows(2048), batch_size=64, shuffle=True)
model = Forecaster()
opt = torch.optim.Adam(model.parameters(), lr=3e-3)
loss_fn = nn.MSELoss()

step = 0
for epoch in range(8):
    running = 0.0
    for xb, yb in loader:
        pred = model(xb)
        loss = loss_fn(pred, yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        running += loss.item()
        step += 1
    print(f"epoch {epoch} step {step} train mse {running / len(loader):.4f}")
