# source: https://github.com/HHTseng/video-classification/issues/42 (LSTM batch/time dims confused; the proposed x.view(...) fix is rejected in the thread because view is not transpose and mixes samples)
# expect: layout-scrambled, batch-mixing
# category: classification
# bug: the default time-first LSTM returns (T, B, H) and the model converts it with .view(B, T, H) instead of transpose(0, 1) before attention pooling, so each "sample" is pooled from time steps of several other samples in the batch; the activity classifier barely learns
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import TensorDataset, DataLoader

np.random.seed(23)
torch.manual_seed(23)

T, N_CH = 60, 6
ACTIVITIES = ["walk", "run", "stairs_up", "sit", "stand", "cycle"]


def imu_window(act, rng):
    """Accelerometer xyz + gyroscope xyz, 60 samples."""
    t = np.arange(T) / 20.0
    x = 0.1 * rng.randn(T, N_CH)
    ph = rng.uniform(0, 2 * np.pi)
    if act == "walk":
        x[:, 2] += 0.6 * np.sin(2 * np.pi * 1.8 * t + ph); x[:, 4] += 0.3 * np.sin(2 * np.pi * 0.9 * t + ph)
    elif act == "run":
        x[:, 2] += 1.4 * np.sin(2 * np.pi * 2.8 * t + ph); x[:, 4] += 0.8 * np.sin(2 * np.pi * 1.4 * t + ph)
    elif act == "stairs_up":
        x[:, 2] += 0.6 * np.sin(2 * np.pi * 1.4 * t + ph); x[:, 0] += 0.4 + 0.2 * np.sin(2 * np.pi * 1.4 * t)
    elif act == "sit":
        x[:, 1] += 0.9
    elif act == "stand":
        x[:, 2] += 0.9
    else:
        x[:, 3] += 0.7 * np.sin(2 * np.pi * 1.2 * t + ph); x[:, 5] += 0.7 * np.cos(2 * np.pi * 1.2 * t + ph)
    return x.astype(np.float32)


def make_split(n, rng):
    y = rng.randint(0, len(ACTIVITIES), n)
    x = np.stack([imu_window(ACTIVITIES[k], rng) for k in y])
    return torch.from_numpy(x), torch.from_numpy(y)


class AttnLSTMClassifier(nn.Module):
    def __init__(self, hidden=64, n_cls=len(ACTIVITIES)):
        super().__init__()
        self.lstm = nn.LSTM(N_CH, hidden, num_layers=1)      # time-first
        self.score = nn.Linear(hidden, 1)
        self.head = nn.Sequential(nn.Linear(hidden, 64), nn.ReLU(), nn.Linear(64, n_cls))

    def forward(self, x):                 # x: (B, T, C) from the DataLoader
        B, L, _ = x.shape
        out, _ = self.lstm(x.transpose(0, 1))             # (T, B, H)
        out = out.contiguous().view(B, L, -1)             # (B, T, H)
        w = torch.softmax(self.score(out).squeeze(-1), dim=1)
        ctx = (w.unsqueeze(-1) * out).sum(1)
        return self.head(ctx)


rng = np.random.RandomState(0)
x_tr, y_tr = make_split(2400, rng)
x_te, y_te = make_split(600, rng)
train_loader = DataLoader(TensorDataset(x_tr, y_tr), batch_size=48, shuffle=True, drop_last=True)

model = AttnLSTMClassifier()
opt = torch.optim.Adam(model.parameters(), lr=3e-3)

for epoch in range(8):
    model.train()
    tl, n = 0.0, 0
    for xb, yb in train_loader:
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        tl += loss.item(); n += 1
    model.eval()
    with torch.no_grad():
        acc = np.mean([(model(x_te[s:s + 48]).argmax(1) == y_te[s:s + 48]).float().mean().item()
                       for s in range(0, 576, 48)])
    print(f"epoch {epoch}  train loss {tl / n:.4f}  test acc {acc:.3f}")
